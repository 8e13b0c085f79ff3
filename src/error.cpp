#include "ssehub/error.hpp"

namespace ssehub {
namespace {

const char* text(error e) noexcept {
    switch (e) {
    case error::invalid_topic: return "invalid topic";
    case error::invalid_event_field: return "event id or type contains CR, LF or NUL";
    case error::no_target: return "event has no topics and no group";
    case error::intake_full: return "hub publish intake is full";
    case error::hub_stopped: return "hub is shut down";
    case error::expired: return "event expired before it was routed";
    case error::no_topics: return "no topics subscribed";
    case error::too_many_connections: return "too many connections";
    case error::bad_request: return "malformed request";
    case error::header_too_large: return "request header too large";
    case error::request_timeout: return "request head timeout";
    case error::method_not_allowed: return "method not allowed";
    case error::unauthorized: return "unauthorized";
    case error::forbidden: return "forbidden";
    case error::invalid_token: return "invalid token";
    case error::token_expired: return "token expired";
    case error::token_not_yet_valid: return "token not yet valid";
    case error::auth_unavailable: return "token verification unavailable: ssehub was built without OpenSSL";
    case error::ticket_invalid: return "ticket unknown, already used or expired";
    case error::ticket_store_full: return "ticket store is full";
    }
    return "unknown ssehub error";
}

class category final : public std::error_category {
public:
    const char* name() const noexcept override { return "ssehub"; }
    // One string construction (g++ 12 at -O3 warns -Wrestrict, falsely, on
    // one per case).
    std::string message(int ev) const override { return text(static_cast<error>(ev)); }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace ssehub
