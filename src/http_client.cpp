// http::async_request: one HTTP/1.1 exchange under a deadline and size bounds.
// g++ 12 reports Asio's awaitable frame delete as mismatched here too: the
// false positive silenced in connection.cpp and http_read.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "ssehub/http_client.hpp"
#include "ascii.hpp"

#include <asio/connect.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/host_name_verification.hpp>
#include <asio/ssl/stream.hpp>
#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <mutex>
#endif

#include <array>
#include <cctype>
#include <charconv>
#include <variant>

namespace ssehub::http {
namespace {

using ssehub::detail::ascii::iequals;
using ssehub::detail::ascii::trim_ows;

bool is_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// Decodes the chunks at the start of `in` into `out`, erasing what it used.
// 1: the last chunk and its trailers were read; 0: more bytes needed;
// -1: malformed; -2: the body would pass `max`.
int dechunk(std::string& in, std::string& out, std::size_t max) {
    constexpr std::size_t max_line = 4096;  // a chunk-size line or a trailer
    std::size_t pos = 0;
    int result = 0;
    for (;;) {
        const auto eol = in.find("\r\n", pos);
        if (eol == std::string::npos) {
            if (in.size() - pos > max_line) result = -1;
            break;
        }
        std::string_view line(in.data() + pos, eol - pos);
        if (const auto semi = line.find(';'); semi != std::string_view::npos) line = line.substr(0, semi);
        line = trim_ows(line);
        std::size_t n = 0;
        const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), n, 16);
        if (line.empty() || ec != std::errc{} || p != line.data() + line.size()) {
            result = -1;
            break;
        }
        if (n == 0) {  // the last chunk: skip trailers up to the empty line
            std::size_t t = eol + 2;
            for (;;) {
                const auto e = in.find("\r\n", t);
                if (e == std::string::npos) {
                    if (in.size() - t > max_line) result = -1;
                    break;
                }
                if (e == t) {
                    result = 1;
                    pos = e + 2;
                    break;
                }
                t = e + 2;
            }
            break;
        }
        if (n > max - out.size()) {
            result = -2;
            break;
        }
        if (in.size() < eol + 2 + n + 2) break;
        if (in.compare(eol + 2 + n, 2, "\r\n") != 0) {
            result = -1;
            break;
        }
        out.append(in, eol + 2, n);
        pos = eol + 2 + n + 2;
    }
    in.erase(0, pos);
    return result;
}

// A TLS peer that closed without close_notify. The answer's framing
// (Content-Length, chunked) still tells a whole answer from a cut one.
#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
bool is_truncation(const std::error_code& ec) { return ec == asio::ssl::error::stream_truncated; }
#else
bool is_truncation(const std::error_code&) { return false; }
#endif

// The request and its answer over a connected stream (a TCP socket or a TLS
// stream). Every parameter refers to async_request's frame, which awaits
// this. (No aggregate built in the co_await expression: g++ 12 destroys such
// a temporary twice.)
template <class Stream>
asio::awaitable<void> talk(Stream& sock, const url& u, std::string_view method, std::string_view content_type,
                           const std::string& body, const client_options& o, client_response& res,
                           std::error_code& ec) {
    auto redirect = asio::redirect_error(asio::use_awaitable, ec);
    std::string req;
    req.reserve(256 + body.size());
    req.append(method).append(" ").append(u.target).append(" HTTP/1.1\r\nHost: ").append(u.authority());
    req.append("\r\nUser-Agent: ssehub\r\nAccept: application/json\r\nConnection: close\r\n");
    if (!content_type.empty()) req.append("Content-Type: ").append(content_type).append("\r\n");
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
    req.append(body);
    co_await asio::async_write(sock, asio::buffer(req), redirect);
    if (ec) co_return;

    std::string in;
    std::array<char, 4096> buf;
    bool eof = false;
    auto read_more = [&]() -> asio::awaitable<void> {
        const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), redirect);
        if (ec == asio::error::eof || is_truncation(ec)) {
            ec = {};
            eof = true;
        }
        in.append(buf.data(), n);
    };

    // The head (1xx interim answers skipped).
    for (;;) {
        const auto end = in.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (in.size() > o.max_head_bytes) {
                ec = std::make_error_code(std::errc::message_size);
                co_return;
            }
            if (eof) {
                ec = std::make_error_code(std::errc::bad_message);
                co_return;
            }
            co_await read_more();
            if (ec) co_return;
            continue;
        }
        if (end + 4 > o.max_head_bytes) {
            ec = std::make_error_code(std::errc::message_size);
            co_return;
        }
        res = {};
        if (!parse_response_head(std::string_view(in).substr(0, end + 4), res)) {
            ec = std::make_error_code(std::errc::bad_message);
            co_return;
        }
        in.erase(0, end + 4);
        if (res.status >= 200) break;
    }

    // The body.
    if (res.status == 204 || res.status == 304 || method == "HEAD") co_return;
    const std::string* te = res.find("Transfer-Encoding");
    const std::string* cl = res.find("Content-Length");
    if (te) {
        if (!iequals(trim_ows(*te), "chunked")) {
            ec = std::make_error_code(std::errc::bad_message);
            co_return;
        }
        for (;;) {
            const int r = dechunk(in, res.body, o.max_body_bytes);
            if (r == 1) co_return;
            if (r < 0 || eof) {
                ec = std::make_error_code(r == -2 ? std::errc::message_size : std::errc::bad_message);
                co_return;
            }
            co_await read_more();
            if (ec) co_return;
        }
    }
    if (cl) {
        const std::string_view digits = trim_ows(*cl);
        std::size_t length = 0;
        const auto [p, perr] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
        if (!is_digits(digits) || perr != std::errc{} || p != digits.data() + digits.size()) {
            ec = std::make_error_code(std::errc::bad_message);
            co_return;
        }
        if (length > o.max_body_bytes) {
            ec = std::make_error_code(std::errc::message_size);
            co_return;
        }
        while (in.size() < length) {
            if (eof) {
                ec = std::make_error_code(std::errc::bad_message);
                co_return;
            }
            co_await read_more();
            if (ec) co_return;
        }
        in.resize(length);
        res.body = std::move(in);
        co_return;
    }
    while (!eof) {  // framed by the end of the connection
        if (in.size() > o.max_body_bytes) break;
        co_await read_more();
        if (ec) co_return;
    }
    if (in.size() > o.max_body_bytes) {
        ec = std::make_error_code(std::errc::message_size);
        co_return;
    }
    res.body = std::move(in);
}

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
// One TLS client context per CA file ("" = the system's default paths), made
// on first use and kept: loading a CA bundle costs milliseconds, and an
// application names one or two. Contexts are safe to share once set up.
std::shared_ptr<asio::ssl::context> tls_context(const std::string& ca_file, std::error_code& ec) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<asio::ssl::context>> contexts;
    std::lock_guard lock(mu);
    if (auto it = contexts.find(ca_file); it != contexts.end()) return it->second;
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    if (!ec) {
        if (ca_file.empty()) ctx->set_default_verify_paths(ec);
        else ctx->load_verify_file(ca_file, ec);
    }
    if (ec) return nullptr;
    contexts.emplace(ca_file, ctx);
    return ctx;
}

#endif

asio::awaitable<void> exchange(const url& u, std::string_view method, std::string_view content_type,
                               const std::string& body, const client_options& o, client_response& res,
                               std::error_code& ec) {
    const auto ex = co_await asio::this_coro::executor;
    auto redirect = asio::redirect_error(asio::use_awaitable, ec);
    asio::ip::tcp::resolver resolver(ex);
    const auto endpoints = co_await resolver.async_resolve(u.host, u.port, redirect);
    if (ec) co_return;
    asio::ip::tcp::socket sock(ex);
    co_await asio::async_connect(sock, endpoints, redirect);
    if (ec) co_return;
    if (u.scheme == "http") {
        co_await talk(sock, u, method, content_type, body, o, res, ec);
        co_return;
    }
#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
    const auto ctx = tls_context(o.ca_file, ec);
    if (!ctx) co_return;
    asio::ssl::stream<asio::ip::tcp::socket&> tls(sock, *ctx);
    std::error_code not_ip;
    (void)asio::ip::make_address(u.host, not_ip);
    if (not_ip && SSL_set_tlsext_host_name(tls.native_handle(), u.host.c_str()) != 1) {  // SNI for names only
        ec = std::make_error_code(std::errc::invalid_argument);
        co_return;
    }
    tls.set_verify_callback(asio::ssl::host_name_verification(u.host), ec);  // the name (or IP) in the certificate
    if (ec) co_return;
    co_await tls.async_handshake(asio::ssl::stream_base::client, redirect);
    if (ec) co_return;
    co_await talk(tls, u, method, content_type, body, o, res, ec);
#endif
}

}  // namespace

bool tls_supported() noexcept {
#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
    return true;
#else
    return false;
#endif
}

std::string url::authority() const {
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (!((scheme == "http" && port == "80") || (scheme == "https" && port == "443"))) out += ":" + port;
    return out;
}

std::optional<url> parse_url(std::string_view text) {
    for (char c : text)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
    const auto sep = text.find("://");
    if (sep == std::string_view::npos) return std::nullopt;
    url u;
    for (char c : text.substr(0, sep)) u.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
    text.remove_prefix(sep + 3);
    const auto slash = text.find_first_of("/?#");
    std::string_view authority = text.substr(0, slash);
    std::string_view rest = slash == std::string_view::npos ? std::string_view() : text.substr(slash);
    if (rest.find('#') != std::string_view::npos || authority.find('@') != std::string_view::npos) return std::nullopt;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        u.host = std::string(authority.substr(1, close - 1));
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            port = after.substr(1);
            if (port.empty()) return std::nullopt;
        }
    } else {
        const auto colon = authority.find(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) return std::nullopt;
        }
    }
    if (u.host.empty()) return std::nullopt;
    if (!port.empty()) {
        unsigned n = 0;
        const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
        if (!is_digits(port) || ec != std::errc{} || p != port.data() + port.size() || n == 0 || n > 65535)
            return std::nullopt;
        u.port = std::to_string(n);
    } else {
        u.port = u.scheme == "https" ? "443" : "80";
    }
    u.target = rest.empty() || rest.front() == '?' ? "/" + std::string(rest) : std::string(rest);
    return u;
}

const std::string* client_response::find(std::string_view name) const {
    for (const auto& h : headers)
        if (iequals(h.name, name)) return &h.value;
    return nullptr;
}

bool parse_response_head(std::string_view head, client_response& out) {
    auto eol = head.find("\r\n");
    if (eol == std::string_view::npos) return false;
    const std::string_view line = head.substr(0, eol);
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' || !is_digits(line.substr(9, 3)) ||
        (line.size() > 12 && line[12] != ' '))
        return false;
    out.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (out.status < 100) return false;
    out.headers.clear();
    std::size_t pos = eol + 2;
    for (;;) {
        eol = head.find("\r\n", pos);
        if (eol == std::string_view::npos) return false;
        if (eol == pos) return pos + 2 == head.size();
        const std::string_view field = head.substr(pos, eol - pos);
        const auto colon = field.find(':');
        if (colon == std::string_view::npos || colon == 0) return false;
        const std::string_view name = field.substr(0, colon);
        for (char c : name)
            if (c == ' ' || c == '\t') return false;  // no whitespace before the colon (RFC 9112)
        for (char c : field)
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return false;
        out.headers.push_back({std::string(name), std::string(trim_ows(field.substr(colon + 1)))});
        pos = eol + 2;
    }
}

asio::awaitable<client_response> async_request(url u, std::string method, std::string content_type, std::string body,
                                               client_options options, std::error_code& ec) {
    using namespace asio::experimental::awaitable_operators;
    ec = {};
    client_response res;
    if (u.scheme != "http" && !(u.scheme == "https" && tls_supported())) {
        ec = std::make_error_code(std::errc::protocol_not_supported);
        co_return res;
    }
    asio::steady_timer timer(co_await asio::this_coro::executor, options.timeout);
    std::error_code xec;
    const auto r = co_await (exchange(u, method, content_type, body, options, res, xec) ||
                             timer.async_wait(asio::use_awaitable));
    if (r.index() == 1) ec = std::make_error_code(std::errc::timed_out);
    else ec = xec;
    if (ec) res = {};
    co_return res;
}

}  // namespace ssehub::http
