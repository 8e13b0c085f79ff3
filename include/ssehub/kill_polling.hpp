// Kill polling: cache-invalidation, signal, progress and completion events
// with stable JSON, built as plain ssehub::event values (namespace
// kill_polling), and one-line free functions that publish them through any
// hub (ssehub::invalidate(hub, ...), ssehub::progress(hub, ...), ...). The
// free functions use only hub::publish; they are not members, so the hub
// class stays the routing core.
//
// Hints are small key/value objects given in C++ without a JSON library:
//   ssehub::invalidate_with_hint(hub, "orders", id, "created", {{"total", 149.99}, {"customer", name}});
// A value is null, a bool, an integer, a double, a string (escaped), or
// pre-serialized JSON text checked when it is made (hint_value::json).
//
// Thread safety: value types and pure functions. Distinct objects: safe.
// Shared objects: unsafe. The publishing functions are safe from any thread,
// as hub::publish is.
#pragma once

#include "ssehub/event.hpp"

#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

namespace ssehub {

class hub;

// One value of a hint. Integers keep their exact value (signed as int64,
// unsigned as uint64); a non-finite double is written as null (JSON has no
// NaN or infinity).
class hint_value {
public:
    // Pre-serialized JSON, validated and stored compact (no insignificant
    // whitespace). Made only by hint_value::json().
    struct raw_json {
        std::string text;
    };
    using storage = std::variant<std::nullptr_t, bool, std::int64_t, std::uint64_t, double, std::string, raw_json>;

    hint_value() noexcept : v_(nullptr) {}
    hint_value(std::nullptr_t) noexcept : v_(nullptr) {}
    hint_value(bool b) noexcept : v_(b) {}
    template <std::signed_integral I>
    hint_value(I i) noexcept : v_(static_cast<std::int64_t>(i)) {}
    template <std::unsigned_integral I>
        requires(!std::same_as<I, bool>)
    hint_value(I u) noexcept : v_(static_cast<std::uint64_t>(u)) {}
    template <std::floating_point F>
    hint_value(F d) noexcept : v_(static_cast<double>(d)) {}
    hint_value(const char* s) : v_(std::string(s)) {}
    hint_value(std::string s) noexcept : v_(std::move(s)) {}
    hint_value(std::string_view s) : v_(std::string(s)) {}
    // Any other pointer would silently become a bool.
    hint_value(const void*) = delete;

    // A nested object, array or any JSON value, e.g. json(R"({"sku":"A1","qty":2})").
    // Throws std::invalid_argument unless `text` is exactly one valid JSON
    // value (RFC 8259, UTF-8, nesting depth at most 64).
    static hint_value json(std::string_view text);

    const storage& value() const noexcept { return v_; }

    // Appends this value as JSON.
    void append_to(std::string& out) const;

private:
    explicit hint_value(raw_json r) noexcept : v_(std::move(r)) {}
    storage v_;
};

// Keys and values in the caller's order (see the payloads for repeated keys).
using hint = std::vector<std::pair<std::string, hint_value>>;

// One entry of batch_domain_events: an `invalidate` payload.
struct domain_event_spec {
    std::string resource;
    std::string action;
    std::string resource_id;  // empty: the whole collection
    ssehub::hint hint;        // empty: no "hint" key
};

namespace kill_polling {

using ssehub::domain_event_spec;
using ssehub::hint;
using ssehub::hint_value;

// Whether `text` is exactly one valid JSON value (what hint_value::json accepts).
bool is_valid_json(std::string_view text) noexcept;

// ---- payloads (the `data` of each event) ----
// Object keys come in the order shown; then hint keys in the caller's order.
// A hint key repeated in the hint, or equal to a fixed key of a flat payload
// (progress, complete), is skipped: the first occurrence wins.

// {"resource":R,"action":A[,"resource_id":ID][,"hint":{...}]}
std::string invalidate_payload(std::string_view resource, std::string_view resource_id, std::string_view action,
                               const hint& h = {});
// [{invalidate payload}, ...] in the given order.
std::string batch_payload(std::span<const domain_event_spec> specs);
// {"signal":"refresh"}
std::string signal_payload();
// {"resource_id":ID,"current":C,"total":T,"pct":P[,hint keys]}; P = floor(100*C/T)
// clamped to 0..100, and 0 when T <= 0.
std::string progress_payload(std::string_view resource_id, std::int64_t current, std::int64_t total,
                             const hint& h = {});
// {"resource_id":ID,"status":"completed"|"failed"[,hint keys]}
std::string complete_payload(std::string_view resource_id, bool success, const hint& h = {});
// The clamped percentage progress_payload writes.
int progress_pct(std::int64_t current, std::int64_t total) noexcept;

// ---- events ----
// `tenant` scopes an event to connections whose metadata has tenant_id ==
// tenant (group {"tenant_id": tenant}). The *_for_tenant builders always set
// the group, so an empty tenant matches only an explicitly empty tenant_id
// (fail closed); the others treat an empty tenant as "everyone".
//
// Coalesce keys (per connection, last writer wins) are the kind followed by
// the JSON-quoted parts, unambiguous whatever the names contain:
//   signal:"dashboard"   signal:"dashboard":"t1"   progress:"import":"imp_1"

// type `invalidate`, instant, topic = resource.
event invalidate_event(std::string_view resource, std::string_view resource_id, std::string_view action,
                       const hint& h = {});
event invalidate_for_tenant_event(std::string_view tenant, std::string_view resource,
                                  std::string_view resource_id, std::string_view action, const hint& h = {});
// type `invalidate`, instant; tenant-scoped only when tenant is non-empty.
event domain_event(std::string_view resource, std::string_view action, std::string_view resource_id,
                   std::string_view tenant, const hint& h = {});
// type `batch`, instant, topics = distinct resources in first-seen order;
// nullopt for an empty list. Tenant-scoped when tenant is non-empty.
std::optional<event> batch_event(std::string_view tenant, std::span<const domain_event_spec> specs);
// type `signal`, coalesced per topic; ttl 0 = never expires.
event signal_event(std::string_view topic, std::chrono::milliseconds ttl = std::chrono::milliseconds(0));
event signal_for_tenant_event(std::string_view tenant, std::string_view topic);
// type `progress`, coalesced per resource and id (and tenant), topic = resource.
event progress_event(std::string_view resource, std::string_view resource_id, std::string_view tenant,
                     std::int64_t current, std::int64_t total, const hint& h = {});
// type `complete`, instant, topic = resource.
event complete_event(std::string_view resource, std::string_view resource_id, std::string_view tenant,
                     bool success, const hint& h = {});

}  // namespace kill_polling

// ---- publishing: each one hub.publish(the event above) ----
// One-line replacements for client polling. Same errors as hub::publish
// (invalid_topic, invalid_event_field, intake_full, hub_stopped, ...).
// Defined in src/kill_polling_publish.cpp.

// `invalidate` (instant) on topic `resource`: clients refetch it.
std::error_code invalidate(hub& target, std::string_view resource, std::string_view resource_id,
                           std::string_view action);
std::error_code invalidate_with_hint(hub& target, std::string_view resource, std::string_view resource_id,
                                     std::string_view action, const hint& h);
// Only connections whose metadata has tenant_id == tenant (an empty tenant
// matches only an explicitly empty tenant_id: never everyone).
std::error_code invalidate_for_tenant(hub& target, std::string_view tenant, std::string_view resource,
                                      std::string_view resource_id, std::string_view action);
std::error_code invalidate_for_tenant_with_hint(hub& target, std::string_view tenant, std::string_view resource,
                                                std::string_view resource_id, std::string_view action,
                                                const hint& h);
// `signal` {"signal":"refresh"}, coalesced per topic (and tenant).
std::error_code signal(hub& target, std::string_view topic);
std::error_code signal_for_tenant(hub& target, std::string_view tenant, std::string_view topic);
// A signal that is dropped if not delivered within ttl.
std::error_code signal_throttled(hub& target, std::string_view topic, std::chrono::milliseconds ttl);
// An `invalidate` payload; tenant-scoped only when tenant is non-empty.
std::error_code domain_event(hub& target, std::string_view resource, std::string_view action,
                             std::string_view resource_id, std::string_view tenant);
std::error_code domain_event(hub& target, std::string_view resource, std::string_view action,
                             std::string_view resource_id, std::string_view tenant, const hint& h);
// One instant `batch` event: a JSON array of the specs, topics = their
// distinct resources. An empty list publishes nothing (and succeeds).
std::error_code batch_domain_events(hub& target, std::string_view tenant,
                                    const std::vector<domain_event_spec>& specs);
// `progress`, coalesced per resource and id: a hidden or slow client gets
// the latest value, not every call.
std::error_code progress(hub& target, std::string_view resource, std::string_view resource_id,
                         std::string_view tenant, std::int64_t current, std::int64_t total);
std::error_code progress(hub& target, std::string_view resource, std::string_view resource_id,
                         std::string_view tenant, std::int64_t current, std::int64_t total, const hint& h);
// `complete` (instant; written after the connection's pending progress).
std::error_code complete(hub& target, std::string_view resource, std::string_view resource_id,
                         std::string_view tenant, bool success);
std::error_code complete(hub& target, std::string_view resource, std::string_view resource_id,
                         std::string_view tenant, bool success, const hint& h);

}  // namespace ssehub
