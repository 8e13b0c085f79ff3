// request accessors, query-string decoding and small responses.
#include "ssehub/http.hpp"
#include "ascii.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace ssehub::http {
namespace {

using ssehub::detail::ascii::hex_value;
using ssehub::detail::ascii::iequals;
using ssehub::detail::ascii::is_tchar;
using ssehub::detail::ascii::trim_ows;

void check_header(std::string_view name, std::string_view value) {
    if (name.empty() ||
        !std::all_of(name.begin(), name.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); }))
        throw std::invalid_argument("ssehub::http::make_response: header name is not a token");
    for (char ch : value) {
        auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            throw std::invalid_argument("ssehub::http::make_response: control character in header value");
    }
}

// Calls f(raw_key, raw_value) for each non-empty '&'-separated segment; a
// segment without '=' has an empty value. Stops when f returns true.
template <class F>
void for_each_param(std::string_view q, F f) {
    while (!q.empty()) {
        const auto amp = q.find('&');
        std::string_view seg = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        if (seg.empty()) continue;
        const auto eq = seg.find('=');
        std::string_view key = seg.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? std::string_view{} : seg.substr(eq + 1);
        if (f(key, value)) return;
    }
}

}  // namespace

std::string_view request::path() const {
    std::string_view t = target;
    return t.substr(0, t.find('?'));
}

std::string_view request::query() const {
    std::string_view t = target;
    const auto q = t.find('?');
    return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

const std::string* request::find(std::string_view name) const {
    for (const auto& h : headers)
        if (iequals(h.name, name)) return &h.value;
    return nullptr;
}

std::optional<std::string> request::query_param(std::string_view name) const {
    std::optional<std::string> result;
    std::string key;
    for_each_param(query(), [&](std::string_view raw_key, std::string_view raw_value) {
        if (!percent_decode(raw_key, key) || key != name) return false;
        std::string value;
        if (percent_decode(raw_value, value)) result = std::move(value);
        return true;  // first occurrence decides, valid or not
    });
    return result;
}

std::optional<std::uint64_t> request::content_length() const {
    const std::string* v = find("content-length");
    if (!v || v->empty()) return std::nullopt;
    std::uint64_t n = 0;
    const char* first = v->data();
    const char* last = first + v->size();
    auto [ptr, ec] = std::from_chars(first, last, n);
    // Unsigned from_chars takes digits only (no sign, no spaces); all must be used.
    if (ec != std::errc{} || ptr != last) return std::nullopt;
    return n;
}

bool request::chunked() const { return find("transfer-encoding") != nullptr; }

bool request::keep_alive() const {
    bool close = false;
    bool keep = false;
    for (const auto& h : headers) {
        if (!iequals(h.name, "connection")) continue;
        for (const auto& token : split_list(h.value)) {
            if (iequals(token, "close")) close = true;
            else if (iequals(token, "keep-alive")) keep = true;
        }
    }
    if (close) return false;
    return version_minor >= 1 || keep;
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (in.size() - i < 3) return false;
            const int hi = hex_value(in[i + 1]);
            const int lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return true;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q) {
    std::vector<std::pair<std::string, std::string>> result;
    for_each_param(q, [&](std::string_view raw_key, std::string_view raw_value) {
        std::string key;
        std::string value;
        if (percent_decode(raw_key, key) && percent_decode(raw_value, value))
            result.emplace_back(std::move(key), std::move(value));
        return false;
    });
    return result;
}

std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> result;
    while (true) {
        const auto comma = s.find(',');
        std::string_view item = trim_ows(s.substr(0, comma));
        if (!item.empty()) result.emplace_back(item);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return result;
}

std::string_view reason_phrase(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return {};
    }
}

std::string make_response(int status, std::string_view content_type, std::string_view body,
                          const std::vector<header>& extra, bool close) {
    if (status < 100 || status > 999) throw std::invalid_argument("ssehub::http::make_response: bad status");
    check_header("Content-Type", content_type);
    for (const auto& h : extra) check_header(h.name, h.value);
    // RFC 9110 8.6 / 6.4.1: no Content-Length and no content in 1xx, 204, 304.
    const bool bodiless = status < 200 || status == 204 || status == 304;

    const std::string_view reason = reason_phrase(status);
    std::string out;
    out.reserve(64 + content_type.size() + reason.size() + (bodiless ? 0 : body.size()));
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += reason;
    out += "\r\n";
    if (!content_type.empty()) {
        out += "Content-Type: ";
        out += content_type;
        out += "\r\n";
    }
    for (const auto& h : extra) {
        out += h.name;
        out += ": ";
        out += h.value;
        out += "\r\n";
    }
    if (!bodiless) {
        out += "Content-Length: ";
        out += std::to_string(body.size());
        out += "\r\n";
    }
    if (close) out += "Connection: close\r\n";
    out += "\r\n";
    if (!bodiless) out += body;
    return out;
}

}  // namespace ssehub::http
