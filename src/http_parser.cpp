// request_parser: a byte-driven state machine over one HTTP/1.x request head.
#include "ssehub/http.hpp"
#include "ascii.hpp"

#include <algorithm>
#include <limits>

namespace ssehub::http {
namespace {

using ssehub::detail::ascii::iequals;
using ssehub::detail::ascii::is_tchar;
using ssehub::detail::ascii::trim_ows;

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

// Control characters other than HTAB; CR and LF are handled before this test.
bool is_ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// origin-form (RFC 9112 3.2.1): visible ASCII only; no fragment. Raw bytes
// >= 0x80 must be percent-encoded by the client.
bool valid_target(std::string_view t, std::string_view method) {
    if (t == "*") return method == "OPTIONS";
    if (t.empty() || t.front() != '/') return false;
    return std::all_of(t.begin(), t.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return c > 0x20 && c < 0x7f && c != '#';
    });
}

// uri-host [":" port]: reg-name, IPv4 or IP-literal characters only. Rejects
// whitespace, '/', '@', lists and the like that confuse virtual hosting.
bool valid_host(std::string_view h) {
    return std::all_of(h.begin(), h.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
        switch (c) {
        case '-': case '.': case '_': case '~': case '%': case '!': case '$': case '&': case '\'':
        case '(': case ')': case '*': case '+': case ';': case '=': case ':': case '[': case ']':
            return true;
        default:
            return false;
        }
    });
}

bool parse_uint64(std::string_view s, std::uint64_t& out) {
    if (s.empty()) return false;
    std::uint64_t v = 0;
    for (char ch : s) {
        if (ch < '0' || ch > '9') return false;
        auto d = static_cast<std::uint64_t>(ch - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
        v = v * 10 + d;
    }
    out = v;
    return true;
}

}  // namespace

request_parser::request_parser(std::size_t max_head_bytes, std::size_t max_headers)
    : max_head_bytes_(max_head_bytes), max_headers_(max_headers) {}

void request_parser::reset() {
    state_ = state::request_line;
    prev_cr_ = false;
    seen_host_ = false;
    seen_content_length_ = false;
    seen_transfer_encoding_ = false;
    head_bytes_ = 0;
    line_.clear();
    req_ = request{};
    status_ = 0;
    message_ = {};
}

request_parser::result request_parser::fail(int status, std::string_view message) {
    state_ = state::error;
    status_ = status;
    message_ = message;
    line_.clear();
    line_.shrink_to_fit();
    return result::error;
}

request_parser::result request_parser::feed(std::string_view bytes, std::size_t& consumed) {
    consumed = 0;
    if (state_ == state::done) return result::done;
    if (state_ == state::error) return result::error;

    const char* const begin = bytes.data();
    const char* const end = begin + bytes.size();
    const char* p = begin;
    auto at_limit = [&] { return head_bytes_ >= max_head_bytes_; };
    auto too_large = [&] {
        consumed = static_cast<std::size_t>(p - begin);
        return fail(431, "request header fields too large");
    };

    // The head is complete only at an LF; so once max_head_bytes have been
    // taken without completing it, it is known to be too large.
    if (at_limit()) return too_large();

    while (p != end) {
        if (prev_cr_) {
            prev_cr_ = false;
            ++head_bytes_;
            if (*p++ != '\n') {
                consumed = static_cast<std::size_t>(p - begin);
                return fail(400, "bare CR in request head");
            }
            result r = on_line();
            line_.clear();
            if (r != result::need_more) {
                consumed = static_cast<std::size_t>(p - begin);
                return r;
            }
            if (at_limit()) return too_large();
            continue;
        }

        // Take a run of ordinary bytes in one go (bounded by the size limit).
        const std::size_t room = max_head_bytes_ - head_bytes_;
        const char* run_end = p + std::min<std::size_t>(room, static_cast<std::size_t>(end - p));
        const char* q = p;
        while (q != run_end) {
            auto c = static_cast<unsigned char>(*q);
            if (c == '\r' || c == '\n' || is_ctl(c)) break;
            ++q;
        }
        line_.append(p, q);
        head_bytes_ += static_cast<std::size_t>(q - p);
        p = q;
        if (at_limit()) return too_large();
        if (p == end) break;

        auto c = static_cast<unsigned char>(*p++);
        ++head_bytes_;
        if (c == '\r') {
            prev_cr_ = true;
            if (at_limit()) return too_large();
            continue;
        }
        consumed = static_cast<std::size_t>(p - begin);
        if (c == '\n') return fail(400, "bare LF in request head");
        return fail(400, "control character in request head");
    }
    consumed = bytes.size();
    return result::need_more;
}

request_parser::result request_parser::on_line() {
    if (state_ == state::request_line) return on_request_line();
    if (line_.empty()) return on_end_of_head();
    return on_header_line();
}

request_parser::result request_parser::on_request_line() {
    // method SP request-target SP HTTP-version, single spaces, nothing else.
    std::string_view line = line_;
    if (line.empty()) return fail(400, "empty line before request line");
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);

    if (!is_token(method)) return fail(400, "malformed request method");
    if (!valid_target(target, method)) return fail(400, "malformed request target");
    // HTTP-version = "HTTP/" DIGIT "." DIGIT
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[5] < '0' || version[5] > '9' ||
        version[6] != '.' || version[7] < '0' || version[7] > '9')
        return fail(400, "malformed HTTP version");
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1'))
        return fail(505, "HTTP version not supported");

    req_.method.assign(method);
    req_.target.assign(target);
    req_.version_minor = version[7] - '0';
    state_ = state::headers;
    return result::need_more;
}

request_parser::result request_parser::on_header_line() {
    std::string_view line = line_;
    if (line.front() == ' ' || line.front() == '\t') return fail(400, "obsolete header line folding");
    if (req_.headers.size() >= max_headers_) return fail(431, "too many header fields");

    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400, "malformed header field");
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return fail(400, "malformed header field name");
    const std::string_view value = trim_ows(line.substr(colon + 1));
    // CTLs were refused byte by byte; HTAB is the one allowed inside a value.

    if (iequals(name, "host")) {
        if (seen_host_) return fail(400, "duplicate Host header");
        if (!valid_host(value)) return fail(400, "malformed Host header");
        seen_host_ = true;
    } else if (iequals(name, "content-length")) {
        if (seen_content_length_) return fail(400, "duplicate Content-Length header");
        std::uint64_t n = 0;
        if (!parse_uint64(value, n)) return fail(400, "malformed Content-Length header");
        if (seen_transfer_encoding_) return fail(400, "both Content-Length and Transfer-Encoding");
        seen_content_length_ = true;
    } else if (iequals(name, "transfer-encoding")) {
        if (seen_transfer_encoding_) return fail(400, "duplicate Transfer-Encoding header");
        if (seen_content_length_) return fail(400, "both Content-Length and Transfer-Encoding");
        // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
        if (req_.version_minor == 0) return fail(400, "Transfer-Encoding in HTTP/1.0");
        if (!iequals(value, "chunked")) return fail(501, "transfer coding not implemented");
        seen_transfer_encoding_ = true;
    }

    req_.headers.push_back(header{std::string(name), std::string(value)});
    return result::need_more;
}

request_parser::result request_parser::on_end_of_head() {
    if (req_.version_minor == 1 && !seen_host_) return fail(400, "missing Host header");
    state_ = state::done;
    line_.clear();
    line_.shrink_to_fit();  // nothing kept per connection after the head
    return result::done;
}

}  // namespace ssehub::http
