// Authentication of event streams, run by the hub before on_connect.
// Failures never register a connection and never call on_disconnect; the
// client gets the outcome's status with a generic body, the reason goes to
// the log only. connect_proxy.hpp has an authenticator that asks a backend.
// Thread safety: authenticators are called concurrently from connection
// strands; the ones made here are safe for that.
#pragma once

#include "ssehub/auth/any_ticket_store.hpp"
#include "ssehub/event.hpp"
#include "ssehub/http.hpp"
#include "ssehub/jwt.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace ssehub {

struct auth_outcome {
    // 0: accepted. Otherwise the status the client gets: 401, 403, any other
    // 4xx, or 503 (429 and 503 with Retry-After from hub_config::retry);
    // anything outside 400..599 is answered 401.
    int status = 0;
    std::string log_reason;      // for the log, never sent to the client
    ssehub::metadata metadata;   // becomes the connection's metadata
    std::optional<std::vector<std::string>> allowed_topics;  // requested patterns must be covered by these
    std::optional<std::vector<std::string>> topics;          // topics decided by the credential (tickets)
    // When the credential stops being valid (a JWT's `exp`): the stream gets
    // an `auth-expired` event (hub_config::auth_expired_event) and ends once
    // this plus hub_config::auth_expiry_grace has passed, so the client
    // reconnects with a fresh credential. nullopt: the stream does not expire.
    std::optional<std::chrono::system_clock::time_point> expires;
    // Spends a single-use credential (ticket_auth sets it). The hub calls it
    // once every other check passed (topics, allowed topics, on_connect),
    // just before it registers the connection, and answers 401 when it
    // yields false (another request spent the credential first) or throws.
    // A request refused earlier leaves the credential unspent.
    std::function<asio::awaitable<bool>()> consume;
};

using authenticator = std::function<asio::awaitable<auth_outcome>(const http::request&)>;

// Bearer token from `Authorization: Bearer <t>` (scheme case-insensitive),
// else `?token=`, checked by verify_jwt (HS256, RS256, ES256, EdDSA; needs
// OpenSSL) with options.secret and options.keys.
authenticator jwt_auth(jwt_options options);

// Same token lookup, checked by your validator (other algorithms, keys
// fetched over the network...).
using token_validator = std::function<std::error_code(std::string_view token, auth_result& out)>;
authenticator jwt_auth(token_validator validator);

// `?ticket=` read from the store (async_get) and its value decoded by
// `decode` (default: ticket_value's JSON, {"topics":[...],"metadata":{...}});
// the outcome's `consume` takes it (async_take) once the hub admits the
// connection, so only an admitted stream spends a ticket, and of requests
// racing with one ticket exactly one is admitted (the others get 401).
using ticket_decoder = std::function<bool(std::string_view value, auth_outcome& out)>;
authenticator ticket_auth(any_ticket_store store, ticket_decoder decode = {});

// The value the default decoder understands.
std::string ticket_value(const std::vector<std::string>& topics, const ssehub::metadata& metadata);

// True when `allowed` (a pattern) covers every subject that `requested` (a
// pattern) can match: `orders.>` covers `orders.*` and `orders.eu`.
bool pattern_covers(std::string_view allowed, std::string_view requested);

}  // namespace ssehub
