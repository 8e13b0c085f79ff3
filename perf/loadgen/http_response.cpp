#include "http_response.hpp"

#include <cctype>
#include <charconv>

namespace ssehub::bench {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// True when the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) noexcept {
    while (!value.empty()) {
        const auto comma = value.find(',');
        if (iequals(trim(value.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

std::size_t parse_response_head(std::string_view bytes, response_head& out, std::size_t max_head) {
    constexpr auto npos = std::string_view::npos;
    const auto end = bytes.find("\r\n\r\n");
    if (end == npos) return bytes.size() > max_head ? npos : 0;
    if (end + 4 > max_head) return npos;
    std::string_view head = bytes.substr(0, end + 2);  // every line ends with CRLF

    response_head r;
    const auto eol = head.find("\r\n");
    const std::string_view status_line = head.substr(0, eol);
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') return npos;
    const bool http10 = status_line[7] == '0';
    if (!http10 && status_line[7] != '1') return npos;
    if (status_line.size() > 12 && status_line[12] != ' ') return npos;
    int status = 0;
    const auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
    if (ec != std::errc{} || p != status_line.data() + 12 || status < 100) return npos;
    r.status = status;
    r.keep_alive = !http10;
    head.remove_prefix(eol + 2);

    while (!head.empty()) {
        const auto line_end = head.find("\r\n");
        const std::string_view line = head.substr(0, line_end);
        head.remove_prefix(line_end + 2);
        const auto colon = line.find(':');
        if (colon == npos || colon == 0) return npos;
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals(name, "content-length")) {
            std::size_t n = 0;
            const auto [q, ec2] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec2 != std::errc{} || q != value.data() + value.size()) return npos;
            if (r.content_length && *r.content_length != n) return npos;
            r.content_length = n;
        } else if (iequals(name, "transfer-encoding")) {
            if (has_token(value, "chunked")) r.chunked = true;
        } else if (iequals(name, "connection")) {
            if (has_token(value, "close")) r.keep_alive = false;
            else if (has_token(value, "keep-alive")) r.keep_alive = true;
        }
    }
    if (r.chunked) r.content_length.reset();  // RFC 9112 6.3: chunked wins
    out = r;
    return end + 4;
}

void chunked_decoder::step(char c) noexcept {
    switch (st_) {
    case state::size: {
        int d = -1;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        if (d >= 0) {
            if (remaining_ > (max_chunk_ >> 4)) {
                failed_ = true;
                return;
            }
            remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(d);
            if (remaining_ > max_chunk_) failed_ = true;
            any_digit_ = true;
        } else if (!any_digit_) {
            failed_ = true;
        } else if (c == ';' || c == ' ' || c == '\t') {
            st_ = state::ext;
        } else if (c == '\r') {
            st_ = state::size_lf;
        } else {
            failed_ = true;
        }
        return;
    }
    case state::ext:
        if (c == '\r') st_ = state::size_lf;
        else if (c == '\n') failed_ = true;
        return;
    case state::size_lf:
        if (c != '\n') {
            failed_ = true;
            return;
        }
        any_digit_ = false;
        if (remaining_ == 0) {
            st_ = state::trailer;
            trailer_empty_ = true;
        } else {
            st_ = state::data;
        }
        return;
    case state::data: return;  // handled in feed()
    case state::data_cr:
        if (c == '\r') st_ = state::data_lf;
        else failed_ = true;
        return;
    case state::data_lf:
        if (c == '\n') st_ = state::size;
        else failed_ = true;
        return;
    case state::trailer:
        if (c == '\r') st_ = trailer_empty_ ? state::last_lf : state::trailer_lf;
        else trailer_empty_ = false;
        return;
    case state::trailer_lf:
        if (c != '\n') {
            failed_ = true;
            return;
        }
        st_ = state::trailer;
        trailer_empty_ = true;
        return;
    case state::last_lf:
        if (c == '\n') done_ = true;
        else failed_ = true;
        return;
    }
}

}  // namespace ssehub::bench
