// HTTP/1.x request heads and small responses, sans-io: pure code, no sockets.
// The parser is strict on purpose (it faces the internet): anything that two
// implementations could frame differently is rejected rather than guessed.
// Thread safety: value types and free functions. Distinct objects: safe.
// Shared objects: unsafe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ssehub::http {

struct header {
    std::string name;   // as sent (case preserved)
    std::string value;  // optional whitespace around it removed
};

// One request head. Everything is derived from the fields on demand, so a head
// built by another framework works the same as one from request_parser.
struct request {
    std::string method;           // "GET"
    std::string target;           // origin-form as sent, e.g. "/events?topics=a,b.*"
    int version_minor = 1;        // HTTP/1.0 or HTTP/1.1
    std::vector<header> headers;  // in order, names as sent
    // Not part of the head: the peer as the server saw it ("127.0.0.1:53412").
    // The hub sets it from serve_context::remote, when empty, before it runs
    // the authenticator (a connect proxy forwards it).
    std::string remote;

    std::string_view path() const;   // target before '?'
    std::string_view query() const;  // target after '?', raw ("" if none)

    // First header with this name (ASCII case-insensitive); nullptr if absent.
    const std::string* find(std::string_view name) const;

    // First parameter with this (decoded) name, percent-decoded, '+' as space.
    // nullopt if absent or if that parameter's value is not validly encoded.
    // Parameters whose name is not validly encoded are skipped.
    std::optional<std::string> query_param(std::string_view name) const;

    // Content-Length if present and digits only (the parser has already
    // rejected duplicates, overflow and non-digits); nullopt otherwise.
    std::optional<std::uint64_t> content_length() const;

    // Transfer-Encoding present. After request_parser, its value is exactly
    // "chunked" (anything else is refused with 501). SSE requests carry no
    // body, so a caller normally refuses this too.
    bool chunked() const;

    // HTTP/1.1: true unless a Connection header lists "close".
    // HTTP/1.0: true only if a Connection header lists "keep-alive" (and not "close").
    bool keep_alive() const;
};

// Percent-decodes `in` into `out` (replaced, not appended). Returns false on a
// '%' not followed by two hex digits; `out` is then unspecified. Decoded bytes
// are not checked (UTF-8 or not, NUL included): validate what you decode.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space = true);

// "a=1&b=x%2Cy&c" -> {{"a","1"},{"b","x,y"},{"c",""}}. Keys and values are
// decoded ('+' as space). Empty segments and pairs whose key or value is not
// validly encoded are skipped (unlike WHATWG URLSearchParams, which keeps bad
// escapes as literal text).
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q);

// "a, b,,c" -> {"a","b","c"}: splits on ',', trims SP/HTAB, drops empty items.
std::vector<std::string> split_list(std::string_view comma_separated);

// Incremental parser of one request head (request line, headers, blank line).
// Bytes are buffered only up to max_head_bytes; errors are reported at the
// byte that proves them, so feeding one byte at a time or all at once gives
// the same result and the same total `consumed`. Work is linear in the input.
class request_parser {
public:
    static constexpr std::size_t default_max_head_bytes = 8192;
    static constexpr std::size_t default_max_headers = 100;

    explicit request_parser(std::size_t max_head_bytes = default_max_head_bytes,
                            std::size_t max_headers = default_max_headers);

    enum class result { need_more, done, error };

    // Parses the start of `bytes`. `consumed` is set to how many were used:
    //  need_more: all of them (kept in the parser);
    //  done:      up to and including the blank line; what follows (a body,
    //             pipelined requests) is left for the caller;
    //  error:     up to and including the byte that proved the error.
    // Once done or error, further calls return the same result and consume 0.
    result feed(std::string_view bytes, std::size_t& consumed);

    // After error: 400, 431 (head over max_head_bytes or over max_headers
    // fields), 501 (Transfer-Encoding other than chunked) or 505 (not HTTP/1.0
    // or HTTP/1.1). 0 otherwise.
    int error_status() const { return status_; }

    // After error: a short fixed text, never echoing the input, safe to send
    // to the client. Empty otherwise.
    std::string_view error_message() const { return message_; }

    // The request; complete once feed returned done.
    request& get() { return req_; }
    const request& get() const { return req_; }

    // Ready for the next request head; limits are kept.
    void reset();

private:
    enum class state : std::uint8_t { request_line, headers, done, error };

    result fail(int status, std::string_view message);
    result on_line();  // line_ holds a complete line, CRLF stripped
    result on_request_line();
    result on_header_line();
    result on_end_of_head();

    std::size_t max_head_bytes_;
    std::size_t max_headers_;
    state state_ = state::request_line;
    bool prev_cr_ = false;
    bool seen_host_ = false;
    bool seen_content_length_ = false;
    bool seen_transfer_encoding_ = false;
    std::size_t head_bytes_ = 0;
    std::string line_;  // the line being read, without its CRLF
    request req_;
    int status_ = 0;
    std::string_view message_;
};

// Reason phrase of a status code ("OK", "Not Found"...); "" if unknown.
std::string_view reason_phrase(int status);

// A complete small response:
//   HTTP/1.1 <status> <reason>\r\n
//   Content-Type: <content_type>\r\n          (omitted if content_type is empty)
//   <extra headers, in order>\r\n
//   Content-Length: <body size>\r\n
//   Connection: close\r\n                     (when close)
//   \r\n
//   <body>
// For 1xx, 204 and 304 neither Content-Length nor the body is written
// (RFC 9110 forbids them). Throws std::invalid_argument if status is not
// 100..999, a header name is not a token, or a value (content_type included)
// holds a control character other than HTAB: that would forge headers.
std::string make_response(int status, std::string_view content_type, std::string_view body,
                          const std::vector<header>& extra = {}, bool close = true);

// The header fields make_response writes (Content-Type, `extra`, Content-Length),
// without Connection: for a stream that sends its response head itself
// (HTTP/2, <ssehub/h2/stream.hpp>). Throws as make_response does.
std::vector<header> response_fields(int status, std::string_view content_type, std::size_t body_size,
                                    const std::vector<header>& extra = {});

// 1xx, 204 and 304 carry no content (RFC 9110 6.4.1).
bool bodiless(int status) noexcept;

}  // namespace ssehub::http
