// The JSON bodies of ssehubd's POST routes, parsed and checked into hub
// events (sans-io: pure functions, no sockets). Every refusal names the field
// that is wrong, e.g. `topics[1]: not a valid topic`.
// Thread safety: pure functions. Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <ssehub/event.hpp>
#include <ssehub/http.hpp>
#include <ssehub/presence.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ssehubd::api {

struct error {
    int status = 400;
    std::string field;    // "" when the body as a whole is wrong
    std::string message;  // names the field; never echoes the input
};

template <class T>
using result = std::variant<T, error>;

struct limits {
    std::size_t max_topic_length = 256;
    std::size_t max_topics = 64;  // subscription patterns per ticket
    std::size_t max_depth = 64;   // JSON nesting
};

// POST /publish:
// {"topics":[..], "type":"..", "data": <string or any JSON value>, "id":"..",
//  "priority":"instant|batched|coalesced", "coalesce_key":"..", "ttl_ms":n,
//  "group":{"k":"v"}, "retry_ms":n}
// Unknown members are refused (a typo would otherwise publish to nobody).
result<ssehub::event> parse_publish(std::string_view body, const limits& lim);

// POST /publish with a JSON array of such objects (a batch): every event is
// checked before any is published; a refusal names the event, `[3].topics[0]`.
// More than max_events: 413.
bool is_publish_batch(std::string_view body);  // the body's first non-blank byte is '['
result<std::vector<ssehub::event>> parse_publish_batch(std::string_view body, const limits& lim, std::size_t max_events);

// POST /publish/<kind>, kind one of invalidate, signal, progress, complete,
// batch: the event the C++ helper of the same name publishes. nullopt for an
// empty batch (nothing to publish, like hub::batch_domain_events).
result<std::optional<ssehub::event>> parse_kill_polling(std::string_view kind, std::string_view body,
                                                        const limits& lim);
bool is_kill_polling_kind(std::string_view kind);

// POST /tickets: {"topics":[patterns], "metadata":{"k":"v"}, "ttl_ms":n}
struct ticket_request {
    std::vector<std::string> topics;
    ssehub::metadata metadata;
    std::optional<std::chrono::milliseconds> ttl;
};
result<ticket_request> parse_ticket_request(std::string_view body, const limits& lim);

// POST /events/visibility: JSON {"connection_id":"..","hidden":bool,"owner":".."}
// or the form @ssehub/client sends: connection_id=..&owner=..&paused=1|0.
struct visibility_request {
    std::string connection_id;
    bool hidden = false;
    std::string owner;  // "" if not given
};
result<visibility_request> parse_visibility(std::string_view body, std::string_view content_type);

// Whether a per-page owner secret is acceptable: 16..128 of [A-Za-z0-9_-].
bool valid_owner(std::string_view owner);

// The admin routes (docs/presence-and-admin.md). `user` and `tenant` name
// these metadata keys: the JWT claims ssehubd copies into metadata.
inline constexpr std::string_view user_key = "sub";
inline constexpr std::string_view tenant_key = "tenant_id";

// GET /presence, /presence/count, /connections:
// ?topic=PATTERN&user=..&tenant=..&offset=N&limit=N&after=ID
// (`topic` required when `topic_required`).
result<ssehub::presence_query> parse_presence_query(const ssehub::http::request& req, const limits& lim,
                                                    bool topic_required);

// POST /connections/disconnect:
// {"user":"..","tenant":"..","topic":"..","metadata":{"k":"v"},"reason":".."}; at
// least one of user, tenant, topic, metadata (never "everyone").
struct disconnect_request {
    ssehub::presence_filter filter;
    std::string reason = "admin";
};
result<disconnect_request> parse_disconnect(std::string_view body, const limits& lim);

// {"error":message[,"field":field]}
std::string error_body(const error& e);

}  // namespace ssehubd::api
