#include "ssehub/sse_parser.hpp"
#include "ascii.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ssehub {
namespace {

using ssehub::detail::ascii::find_or_end;

bool all_digits(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

void sse_parser::feed(std::string_view bytes) {
    feed_impl(bytes, sink{nullptr, nullptr, true});
}

void sse_parser::reset_stream() noexcept {
    line_.clear();
    data_.clear();
    type_.clear();
    bom_matched_ = 0;
    bom_done_ = false;
    pending_cr_ = false;
    failed_ = false;
}

void sse_parser::feed_impl(std::string_view bytes, const sink& out) {
    if (failed_) {
        return;
    }
    const char* p = bytes.data();
    const char* const end = p + bytes.size();
    if (!bom_done_) {
        static constexpr char bom[3] = {'\xEF', '\xBB', '\xBF'};
        while (p != end && !bom_done_) {
            if (*p == bom[bom_matched_]) {
                ++p;
                bom_done_ = ++bom_matched_ == 3;
            } else {
                // Not a BOM: the bytes matched so far are content.
                bom_done_ = true;
                if (bom_matched_ != 0) {
                    feed_lines(bom, bom + bom_matched_, out);
                }
            }
        }
    }
    if (p != end) {
        feed_lines(p, end, out);
    }
}

void sse_parser::feed_lines(const char* p, const char* const end, const sink& out) {
    if (pending_cr_) {
        pending_cr_ = false;
        if (*p == '\n') {
            ++p;
        }
    }
    // Next LF and CR at or after p; each is searched again only once passed,
    // so the whole feed is scanned once.
    const char* lf = find_or_end(p, end, '\n');
    const char* cr = find_or_end(p, end, '\r');
    while (p != end) {
        if (lf < p) {
            lf = find_or_end(p, end, '\n');
        }
        if (cr < p) {
            cr = find_or_end(p, end, '\r');
        }
        const char* const eol = std::min(lf, cr);
        if (eol == end) {
            const auto rest = static_cast<std::size_t>(end - p);
            if (line_.size() + rest + data_.size() > opts_.max_buffered) {
                failed_ = true;
                return;
            }
            line_.append(p, rest);
            return;
        }
        std::string_view line;
        if (line_.empty()) {
            line = std::string_view(p, static_cast<std::size_t>(eol - p));
        } else {
            line_.append(p, eol);
            line = line_;
        }
        p = eol + 1;
        if (*eol == '\r') {
            if (p == end) {
                pending_cr_ = true;
            } else if (*p == '\n') {
                ++p;
            }
        }
        process_line(line, out);
        line_.clear();
        if (failed_) {
            return;
        }
    }
}

void sse_parser::process_line(std::string_view line, const sink& out) {
    if (line.empty()) {
        dispatch(out);
        return;
    }
    std::string_view field = line;
    std::string_view value;
    if (const void* colon = std::memchr(line.data(), ':', line.size())) {
        const auto at = static_cast<std::size_t>(static_cast<const char*>(colon) - line.data());
        field = line.substr(0, at);
        value = line.substr(at + 1);
        if (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
    }
    if (field.empty()) {
        ++comment_count_;
        if (opts_.keep_comments) {
            comments_.emplace_back(value);
        }
    } else if (field == "data") {
        if (data_.size() + value.size() + 1 > opts_.max_buffered) {
            failed_ = true;
            return;
        }
        data_.append(value);
        data_.push_back('\n');
    } else if (field == "event") {
        type_.assign(value);
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) {
            id_buffer_.assign(value);
        }
    } else if (field == "retry") {
        long v = 0;
        if (all_digits(value)) {
            auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec == std::errc{} && ptr == value.data() + value.size()) {
                retry_ = v;
            }
        }
    }
    // Any other field is ignored.
}

void sse_parser::dispatch(const sink& out) {
    last_event_id_.assign(id_buffer_);
    if (data_.empty()) {
        type_.clear();
        return;
    }
    data_.pop_back();  // the buffer always ends with the LF appended per data line
    ++event_count_;
    const std::string_view type = type_.empty() ? std::string_view("message") : std::string_view(type_);
    if (out.queue) {
        parsed_event ev;
        ev.id = last_event_id_;
        ev.type = type;
        ev.data = std::move(data_);
        data_.clear();
        type_.clear();
        queue_.push_back(std::move(ev));
        return;
    }
    current_.id.assign(last_event_id_);
    current_.type.assign(type);
    current_.data.swap(data_);
    data_.clear();
    type_.clear();
    out.fn(out.ctx, current_);
}

}  // namespace ssehub
