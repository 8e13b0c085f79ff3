// Connect proxy: before a stream is admitted, ask your backend over HTTP
// whether it may connect, with which topics and which metadata (Centrifugo's
// connect proxy, for SSE). docs/connect-proxy.md has the full schema.
//
// Request (POST, Content-Type: application/json):
//   {"remote":"127.0.0.1:53412","method":"GET","path":"/events",
//    "query":"topics=orders.eu&x=1","topics":["orders.eu"],
//    "headers":{"authorization":"Bearer ..."},"cookies":{"session":"..."}}
//   headers: only those named in connect_proxy_options::headers (names lower
//   case); cookies: only those named in ::cookies; topics: the request's
//   `?topics=` list (empty when it names none); remote: http::request::remote,
//   which the hub fills from serve_context::remote (async_serve with
//   serve_options finds it on a socket; the plain async_serve(stream) leaves
//   it empty).
// Answer (HTTP 200, a JSON object), exactly one of:
//   {"result":{"user":"42","tenant":"acme","topics":["orders.eu"],
//              "allowed_topics":["orders.>"],"meta":{"plan":"pro"},"expire_at":1767225600}}
//     every member optional. user → metadata "sub", tenant → metadata
//     "tenant_id", meta (strings or numbers) → metadata; topics replace the
//     requested ones; allowed_topics must cover every requested pattern;
//     expire_at (Unix seconds): the stream gets `auth-expired` then and ends.
//   {"error":{"status":403,"reason":"banned"}}
//     deny: status 400..499 (default 403) is what the client gets; the
//     reason goes to the log only.
// Anything else (a non-2xx status, a malformed answer, no answer within the
// timeout, the backend down) is a failure: 503 with Retry-After by default,
// or the stream is admitted with its requested topics and no metadata when
// allow_on_failure is set. Past `concurrency` calls in flight, a connect is
// answered 503 at once (never queued): a slow backend never holds more than
// `concurrency` connects, and never slows anything else.
// Thread safety: the authenticator is safe to call concurrently from any
// strand; the free functions are pure.
#pragma once

#include "ssehub/auth.hpp"
#include "ssehub/http.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ssehub {

struct connect_proxy_options {
    std::string url;                          // http(s)://host:port/path, POSTed to (https: built with OpenSSL)
    std::string ca_file;                      // https: CAs to trust (PEM); empty: the system's
    std::chrono::milliseconds timeout{2000};  // one call: connect, send, answer; over → failure
    std::size_t concurrency = 64;             // calls in flight at most; more → 503 at once
    bool allow_on_failure = false;            // false: a failure is 503; true: admitted, unauthenticated
    std::vector<std::string> headers{"Authorization"};  // request headers forwarded (ASCII case-insensitive)
    std::vector<std::string> cookies;         // cookies forwarded by name (from the Cookie header)
    std::size_t max_answer_bytes = 64 * 1024; // a larger answer is a failure
};

// The authenticator (hub_config::authenticate). Throws std::invalid_argument
// when the URL is not http(s)://host[:port][/path] (https only in a build
// with OpenSSL, http::tls_supported()) or concurrency is 0.
authenticator connect_proxy_auth(connect_proxy_options options);

// The sans-io halves, for tests and for callers with their own transport:
// the JSON body POSTed for `request`...
std::string connect_proxy_request(const http::request& request, const connect_proxy_options& options);

// ...and the outcome for an answer body (HTTP 200). A malformed answer gives
// status 503 (or an admitted outcome with allow_on_failure), with the reason
// in log_reason. `now` (Unix time) decides whether expire_at is past (401).
auth_outcome connect_proxy_answer(std::string_view body, const connect_proxy_options& options,
                                  std::chrono::system_clock::time_point now);

}  // namespace ssehub
