// Bearer tokens: HS256 JWT verification (RFC 7519 / RFC 7515) and extraction
// of the token from a request. Sans-io: pure functions, no sockets.
//
// verify_hs256 needs OpenSSL (HMAC-SHA256, constant-time compare). ssehub built
// without it (SSEHUB_HAS_OPENSSL undefined or 0) still declares everything:
// verify_hs256 then always fails with error::auth_unavailable and sign_hs256
// throws; check hs256_available.
//
// Thread safety: free functions and value types. Distinct objects: safe.
// Shared objects: unsafe (a jwt_options may be shared read-only if its `now`
// function is safe to call concurrently).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ssehub/event.hpp"
#include "ssehub/http.hpp"

namespace ssehub {

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
inline constexpr bool hs256_available = true;
#else
inline constexpr bool hs256_available = false;
#endif

// Who the bearer is, as an authenticator reports it.
struct auth_result {
    ssehub::metadata metadata;                               // becomes the connection's metadata
    std::optional<std::vector<std::string>> allowed_topics;  // patterns the bearer may subscribe to; nullopt: no limit
    // Until when the credential is valid (a JWT's exp + leeway); the stream
    // ends then (auth_outcome::expires). nullopt: no expiry.
    std::optional<std::chrono::system_clock::time_point> expires;
};

struct jwt_options {
    std::string secret;                    // HMAC key (raw bytes); empty: every token is rejected
    std::chrono::seconds leeway{30};       // clock skew allowed on exp, nbf and iat
    std::optional<std::string> issuer;     // when set, `iss` must equal it
    std::optional<std::string> audience;   // when set, `aud` (string, or array of strings) must contain it
    bool require_exp = false;              // false: `exp` is optional, but enforced when present
    std::vector<std::string> metadata_claims{"tenant_id", "sub"};  // copied to metadata when present
    std::string topics_claim = "topics";   // empty: no topic restriction is read from the token
    std::size_t max_token_bytes = 8192;    // longer tokens are rejected before any decoding
    std::function<std::chrono::system_clock::time_point()> now;  // empty: system_clock::now (tests inject)
};

// Verifies a compact JWS `header.payload.signature` signed with HS256:
//  - exactly three base64url parts (no padding), header and payload JSON objects
//    (strict parser; duplicate member names rejected);
//  - header `alg` exactly "HS256" ("none", "hs256", "HS512"... rejected), `typ`
//    if present "JWT" (ASCII case-insensitive), no `crit`;
//  - HMAC-SHA256 over `header.payload` compared in constant time, checked
//    before the payload is parsed;
//  - `exp` (if present; required when require_exp): now < exp + leeway, else
//    token_expired; `nbf` (if present): now >= nbf - leeway, and `iat` (if
//    present): iat <= now + leeway, else token_not_yet_valid. All three must
//    be JSON numbers (fractions allowed) when present;
//  - `iss` / `aud` when configured;
//  - each of metadata_claims that is present: a string is copied as is, a
//    number as its JSON text; any other type rejects the token;
//  - topics_claim, if present: an array of strings or one string of patterns
//    separated by spaces and/or commas; every pattern must be a valid topic
//    pattern (topic::is_valid_pattern, no length limit here).
// On success fills `out` and returns {}. Otherwise returns invalid_token,
// token_expired, token_not_yet_valid or auth_unavailable, leaves `out`
// unchanged, and writes the reason to *log_message (for the server log only:
// never send it to the client).
std::error_code verify_hs256(std::string_view token, const jwt_options& options, auth_result& out,
                             std::string* log_message = nullptr);

// base64url(header_json) "." base64url(payload_json) "." base64url(HMAC-SHA256).
// The JSON texts are used as given (not validated), so tests can sign malformed
// ones. Throws std::system_error(error::auth_unavailable) without OpenSSL.
std::string sign_hs256(std::string_view header_json, std::string_view payload_json, std::string_view secret);

// The bearer token of a request: `Authorization: Bearer <token>` (scheme
// ASCII case-insensitive, token trimmed), else the `?token=` query parameter
// (percent-decoded). nullopt when neither gives a non-empty token.
std::optional<std::string> bearer_token(const http::request& request);

}  // namespace ssehub
