// A small awaitable HTTP/1.1 client: one request on a new connection
// (`Connection: close`), the whole exchange under one deadline and the
// answer under a size bound. What the connect proxy and the daemon's JWKS
// fetch need, nothing more: http:// and, when ssehub is built with OpenSSL,
// https:// (certificate and host name verified, TLS 1.2 at least); no
// redirects, no keep-alive, no proxies.
// Thread safety: free functions and value types; concurrent calls are safe
// (each has its own socket and timer, on the caller's executor).
#pragma once

#include "ssehub/http.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace ssehub::http {

// An absolute URL split for a request: http://host[:port][/path][?query].
struct url {
    std::string scheme;  // "http" or "https" (lower case)
    std::string host;    // a name, an IPv4 address, or an IPv6 address without its brackets
    std::string port;    // digits; "80" / "443" when the URL names none
    std::string target;  // origin-form: path and query, "/" when the URL has no path

    // "host" or "host:port" (brackets around IPv6), the port omitted when it is the scheme's default.
    std::string authority() const;
};

// nullopt unless `text` is http:// or https:// (scheme case-insensitive),
// then a non-empty host, an optional port 1..65535, an optional path/query.
// No user info, no fragment, no whitespace or control characters.
std::optional<url> parse_url(std::string_view text);

struct client_options {
    std::chrono::milliseconds timeout{5000};  // resolve + connect + write + read, together
    std::size_t max_head_bytes = 8192;        // the response's status line and headers
    std::size_t max_body_bytes = 64 * 1024;   // the response body (after de-chunking)
    // https: the CA certificates (a PEM file) to trust; empty: the system's
    // (OpenSSL's default paths). Read once per file and process.
    std::string ca_file;
};

// Whether async_request speaks https:// (ssehub built with OpenSSL).
bool tls_supported() noexcept;

struct client_response {
    int status = 0;               // e.g. 200
    std::vector<header> headers;  // in order, names as sent
    std::string body;             // de-chunked

    // First header with this name (ASCII case-insensitive); nullptr if absent.
    const std::string* find(std::string_view name) const;
};

// Sends `method target` to u's host with `body` (Content-Length always
// written; Content-Type when not empty) and reads the whole answer: a body
// framed by Content-Length, chunked, or by the end of the connection. On
// failure `ec` is set and the response is empty:
//   std::errc::timed_out            the deadline passed
//   std::errc::message_size         head or body over the bound
//   std::errc::bad_message          a malformed answer
//   std::errc::protocol_not_supported  an https URL in a build without OpenSSL
//   asio::ssl errors                 https: handshake, certificate or host name refused
//   anything else                   resolve/connect/read errors (connection_refused...)
// Everything is taken by value (the coroutine keeps its own copies); only
// `ec` must outlive the call.
asio::awaitable<client_response> async_request(url u, std::string method, std::string content_type, std::string body,
                                               client_options options, std::error_code& ec);

// Sans-io piece of async_request, exposed for tests: parses a response head
// ("HTTP/1.x NNN reason\r\n" headers "\r\n\r\n", the blank line included).
// False when malformed.
bool parse_response_head(std::string_view head, client_response& out);

}  // namespace ssehub::http
