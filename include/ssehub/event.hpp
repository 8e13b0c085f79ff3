// An event as a publisher describes it, before the hub encodes it once.
// Thread safety: a plain value type. Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ssehub {

// Delivery lane of an event.
enum class priority : std::uint8_t {
    instant,    // queued to every matched connection at once
    batched,    // held per connection, delivered at its next flush, in publish order
    coalesced,  // last writer wins per coalesce key per connection, delivered at flush
};

// key=value pairs: a connection's metadata, or an event's group filter.
using metadata = std::map<std::string, std::string, std::less<>>;

// Whether a connection with metadata `conn` is in an event's `group`: every
// pair of `group` is in `conn` with an equal value (case-sensitive). A
// missing key never matches; an empty value matches only an empty value; an
// empty group matches every connection. (The hub routes by this; so does
// any replayer that filters stored events for a reconnecting client.)
inline bool group_matches(const metadata& conn, const metadata& group) noexcept {
    for (const auto& [key, value] : group) {
        const auto it = conn.find(key);
        if (it == conn.end() || it->second != value) return false;
    }
    return true;
}

struct event {
    std::string id;                        // empty: the hub assigns a unique, sortable id
    std::string type;                      // SSE `event:` field; empty means "message"
    std::string data;                      // any text; every line becomes a `data:` line
    std::vector<std::string> topics;       // literal topics (no wildcards)
    metadata group;                        // connections must have every pair
    priority lane = priority::instant;
    std::string coalesce_key;              // coalesced lane: defaults to `type`
    std::chrono::milliseconds ttl{0};      // 0: never expires
    std::optional<std::chrono::milliseconds> retry;  // optional `retry:` field
    // Keep this event as each of its topics' current value: a connection that
    // subscribes later (without Last-Event-ID) gets it right after
    // `connected`, until a newer retained event or hub::clear_retained
    // replaces it. The group filter applies then too.
    bool retain = false;
};

}  // namespace ssehub
