#include "ssehub/wire.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "ssehub/error.hpp"
#include "ascii.hpp"

namespace ssehub::wire {
namespace {

using ssehub::detail::ascii::find_or_end;

constexpr std::string_view id_prefix = "id: ";
constexpr std::string_view event_prefix = "event: ";
constexpr std::string_view retry_prefix = "retry: ";
constexpr std::string_view data_prefix = "data: ";
constexpr std::string_view empty_data_line = "data:\n";

bool has_cr_lf_nul(std::string_view s) noexcept {
    for (char c : s) {
        if (c == '\r' || c == '\n' || c == '\0') {
            return true;
        }
    }
    return false;
}

// Calls f(line) for every line of `text`; CRLF, CR and LF all end a line.
// Text with N line breaks has N + 1 lines (so "" is one empty line).
// The next LF and CR are found with memchr and searched again only once
// passed, so the text is scanned once whatever its line breaks.
template <class F>
void for_each_line(std::string_view text, F&& f) {
    const char* p = text.data();
    const char* const end = p + text.size();
    const char* lf = find_or_end(p, end, '\n');
    const char* cr = find_or_end(p, end, '\r');
    for (;;) {
        if (lf < p) {
            lf = find_or_end(p, end, '\n');
        }
        if (cr < p) {
            cr = find_or_end(p, end, '\r');
        }
        const char* const eol = std::min(lf, cr);
        f(std::string_view(p, static_cast<std::size_t>(eol - p)));
        if (eol == end) {
            return;
        }
        p = eol + 1;
        if (*eol == '\r' && p != end && *p == '\n') {
            ++p;
        }
    }
}

// Writes at a cursor into storage sized beforehand (no capacity checks).
struct writer {
    char* at;
    void put(std::string_view s) noexcept {
        if (!s.empty()) {
            std::memcpy(at, s.data(), s.size());
            at += s.size();
        }
    }
    void put(char c) noexcept { *at++ = c; }
    void put_number(long long v) noexcept {
        char buf[24];
        const char* last = std::to_chars(buf, buf + sizeof buf, v).ptr;
        put(std::string_view(buf, static_cast<std::size_t>(last - buf)));
    }
};

std::size_t digits(long long v) noexcept {
    std::size_t n = 1;
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

std::size_t data_size(std::string_view data) noexcept {
    std::size_t n = 0;
    for_each_line(data, [&n](std::string_view line) {
        n += line.empty() ? empty_data_line.size() : data_prefix.size() + line.size() + 1;
    });
    return n;
}

void put_data(writer& w, std::string_view data) {
    for_each_line(data, [&w](std::string_view line) {
        if (line.empty()) {
            w.put(empty_data_line);
        } else {
            w.put(data_prefix);
            w.put(line);
            w.put('\n');
        }
    });
}

}  // namespace

std::error_code validate_id(std::string_view id) noexcept {
    return has_cr_lf_nul(id) ? make_error_code(error::invalid_event_field) : std::error_code{};
}

std::error_code validate_type(std::string_view type) noexcept {
    return has_cr_lf_nul(type) ? make_error_code(error::invalid_event_field) : std::error_code{};
}

std::size_t encoded_size(std::string_view id, std::string_view type, std::string_view data,
                         std::optional<std::chrono::milliseconds> retry) noexcept {
    std::size_t n = data_size(data) + 1;
    if (!id.empty()) {
        n += id_prefix.size() + id.size() + 1;
    }
    if (!type.empty()) {
        n += event_prefix.size() + type.size() + 1;
    }
    if (retry) {
        n += retry_prefix.size() + digits(std::max<long long>(retry->count(), 0)) + 1;
    }
    return n;
}

namespace {

std::error_code validate(std::string_view id, std::string_view type,
                         std::optional<std::chrono::milliseconds> retry) noexcept {
    if (auto ec = validate_id(id)) {
        return ec;
    }
    if (auto ec = validate_type(type)) {
        return ec;
    }
    if (retry && retry->count() < 0) {
        return make_error_code(error::invalid_event_field);
    }
    return {};
}

// Writes without validating into exactly encoded_size() bytes at `at`.
void write_event(std::string_view id, std::string_view type, std::string_view data,
                 std::optional<std::chrono::milliseconds> retry, char* at) noexcept {
    writer w{at};
    if (!id.empty()) {
        w.put(id_prefix);
        w.put(id);
        w.put('\n');
    }
    if (!type.empty()) {
        w.put(event_prefix);
        w.put(type);
        w.put('\n');
    }
    if (retry) {
        w.put(retry_prefix);
        w.put_number(retry->count());
        w.put('\n');
    }
    put_data(w, data);
    w.put('\n');
}

}  // namespace

std::error_code encode(std::string_view id, std::string_view type, std::string_view data,
                       std::optional<std::chrono::milliseconds> retry, std::string& out) {
    if (auto ec = validate(id, type, retry)) {
        return ec;
    }
    const std::size_t old = out.size();
    out.resize(old + encoded_size(id, type, data, retry));
    write_event(id, type, data, retry, out.data() + old);
    return {};
}

std::error_code make_frame(const ssehub::event& ev, std::string_view id, frame& out) {
    if (auto ec = validate(id, ev.type, ev.retry)) {
        return ec;
    }
    auto s = std::make_shared<std::string>(encoded_size(id, ev.type, ev.data, ev.retry), '\0');
    write_event(id, ev.type, ev.data, ev.retry, s->data());
    out = std::move(s);
    return {};
}

std::string comment(std::string_view text) {
    std::string out;
    std::size_t n = 1;
    for_each_line(text, [&n](std::string_view line) { n += line.empty() ? 2 : line.size() + 3; });
    out.reserve(n);
    for_each_line(text, [&out](std::string_view line) {
        out += ':';
        if (!line.empty()) {
            out += ' ';
            out += line;
        }
        out += '\n';
    });
    out += '\n';
    return out;
}

frame heartbeat_frame() {
    static const frame heartbeat = std::make_shared<const std::string>(": ping\n\n");
    return heartbeat;
}

std::string retry_field(std::chrono::milliseconds delay) {
    const long long ms = std::max<long long>(delay.count(), 0);
    std::string out(retry_prefix.size() + digits(ms) + 2, '\0');
    writer w{out.data()};
    w.put(retry_prefix);
    w.put_number(ms);
    w.put("\n\n");
    return out;
}

}  // namespace ssehub::wire
