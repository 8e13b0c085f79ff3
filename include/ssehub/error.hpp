// Error codes of ssehub: one enum, one category, make_error_code.
// Thread safety: stateless, safe from any thread.
#pragma once

#include <string>
#include <system_error>

namespace ssehub {

enum class error {
    // publish side
    invalid_topic = 1,      // empty token, whitespace, control char, misplaced '>', too long
    invalid_event_field,    // CR, LF or NUL in an id or event name, or NUL in retry/comment
    no_target,              // an event with neither topics nor group
    intake_full,            // the hub's bounded publish intake is full; event rejected
    hub_stopped,            // the hub is shut down
    expired,                // the event's TTL passed before it was routed
    // connection side
    no_topics,              // a subscription with no topics
    too_many_connections,   // max_connections reached
    bad_request,            // malformed HTTP request head
    header_too_large,       // request head over the configured limit
    request_timeout,        // request head not received in time
    method_not_allowed,     // not GET on the event stream
    unauthorized,           // rejected by authentication
    forbidden,              // rejected by authorization
    // auth
    invalid_token,          // malformed JWT, bad signature, wrong alg/typ/iss/aud, bad claim types
    token_expired,          // JWT `exp` (plus leeway) has passed
    token_not_yet_valid,    // JWT `nbf` or `iat` is in the future (beyond leeway)
    auth_unavailable,       // HS256 verification asked of an ssehub built without OpenSSL
    ticket_invalid,         // ticket unknown, already used, or expired
    ticket_store_full,      // ticket store at capacity even after purging expired tickets
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace ssehub

template <>
struct std::is_error_code_enum<ssehub::error> : std::true_type {};
