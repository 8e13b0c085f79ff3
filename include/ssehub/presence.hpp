// Presence: who is connected to a topic, found through the shards' own
// subscription and metadata indexes (no scan of every connection per query).
// The query and answer types of hub::async_presence, async_presence_count and
// async_disconnect (docs/presence-and-admin.md).
// Thread safety: plain value types. Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include "ssehub/event.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ssehub {

// Which connections a presence query (or a disconnect by filter) is about.
// Both parts narrow: a connection must have subscribed exactly `topic` (as
// the pattern it asked for: "chat.*" lists the subscribers of "chat.*", not
// those of "chat.eu") and carry every pair of `match` in its metadata.
struct presence_filter {
    std::string topic;      // a valid pattern, or empty: any topic
    ssehub::metadata match; // e.g. {{"sub","alice"}} or {{"tenant_id","t1"}}; empty: any metadata
};

// A page of a presence list. Entries come sorted by connection id, so pages
// stay stable while connections come and go: pass the previous page's `next`
// as `after` (a cursor), or use `offset` (skips that many after `after`).
struct presence_query {
    presence_filter filter;
    std::size_t offset = 0;
    std::size_t limit = 100;  // clamped to hub_config::max_presence_page
    std::string after;        // only ids greater than this ("": from the first)
};

struct presence_entry {
    std::string id;                       // the connection id (hub::disconnect takes it)
    ssehub::metadata metadata;            // what authentication / on_connect set (user, tenant...)
    std::vector<std::string> topics;      // every pattern it subscribed
    std::chrono::system_clock::time_point connected_at;  // registration time, to the second
};

struct presence_page {
    std::size_t total = 0;               // connections matching the filter, on every page
    std::vector<presence_entry> entries; // at most `limit`, sorted by id
    std::string next;                    // cursor for the next page ("" when this was the last)
};

// The topic join/leave events are published on when hub_config::presence_events
// is on: "$presence." + the subscribed topic (literal topics only). The `$`
// prefix is reserved for the hub: hub::publish refuses it while presence
// events are on.
inline constexpr std::string_view presence_topic_prefix = "$presence.";

}  // namespace ssehub
