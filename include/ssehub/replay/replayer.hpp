// The `replayer` concept: what a Last-Event-ID replay store must offer, and
// the optional synchronous fast path any replayer may add.
//
// A replayer stores every event the hub routes (already encoded, with its
// topics and group) and, for a reconnecting client, returns the stored events
// after the client's last id that match its subscription patterns AND its
// metadata (an event's group must be a subset of the connection's metadata, so
// a tenant never receives another tenant's replay: replay_matches() is that
// rule). An id the store does not know (never seen, evicted, expired) gives
// known = false: the hub then tells the client to refetch (`resync`) instead
// of staying silent. Each replayed event carries its id beside its frame.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>

#include "ssehub/event.hpp"
#include "ssehub/wire.hpp"

namespace ssehub {

struct stored_event {
    std::string id;                     // the id the frame carries (what clients send back as Last-Event-ID)
    frame bytes;                        // the encoded event, shared with live delivery
    std::vector<std::string> topics;    // literal topics; empty: a group-only event
    metadata group;                     // connections must have every pair
    std::chrono::steady_clock::time_point at{};  // when it was stored (age eviction)
    // The event's TTL deadline: not replayed after it. max(): never expires.
    std::chrono::steady_clock::time_point expires = std::chrono::steady_clock::time_point::max();
};

// One replayed event: its id travels beside its frame, so the hub never
// parses bytes to learn it (it de-duplicates live events by these ids).
struct replayed_event {
    std::string id;  // the id the frame carries
    frame bytes;     // the encoded event, as stored
};

struct replay_result {
    bool known = false;                   // false: last id unknown or evicted → the hub sends `resync`
    std::vector<replayed_event> events;   // the matching events after last id, oldest first
    bool truncated = false;               // more matching events existed than max_events
};

// Whether a stored event (its topics and group) is replayed to a connection
// subscribed to `patterns` with metadata `conn_meta`: some topic matches some
// pattern (topic::matches) and every pair of the group is in conn_meta; an
// event without topics matches by its (non-empty) group alone. The rule live
// routing applies, for replayers to share.
bool replay_matches(const std::vector<std::string>& topics, const metadata& group,
                    const std::vector<std::string>& patterns, const metadata& conn_meta) noexcept;

namespace detail {

// Split so that a diagnostic names the operation a type lacks.
template <class T>
concept replayer_can_store = requires(T& t, stored_event ev) {
    { t.async_store(std::move(ev)) } -> std::same_as<asio::awaitable<void>>;
};

template <class T>
concept replayer_can_replay = requires(T& t, std::string_view last_id, const std::vector<std::string>& patterns,
                                       const metadata& conn_meta, std::size_t max_events) {
    { t.async_replay(last_id, patterns, conn_meta, max_events) } -> std::same_as<asio::awaitable<replay_result>>;
};

template <class T>
concept replayer_can_store_now = requires(T& t, stored_event ev) {
    { t.store(std::move(ev)) } -> std::same_as<void>;
};

template <class T>
concept replayer_can_replay_now = requires(T& t, std::string_view last_id, const std::vector<std::string>& patterns,
                                           const metadata& conn_meta, std::size_t max_events) {
    { t.replay(last_id, patterns, conn_meta, max_events) } -> std::same_as<replay_result>;
};

}  // namespace detail

// T stores events and replays them:
//   co_await t.async_store(stored_event)                                   -> void
//   co_await t.async_replay(last_id, patterns, conn_meta, max_events)      -> replay_result
// The arguments of async_replay must stay valid until it completes (true
// when the result is co_awaited in the same expression).
template <class T>
concept replayer = detail::replayer_can_store<T> && detail::replayer_can_replay<T>;

// The synchronous fast path a replayer may offer besides the awaitable one:
//   t.store(stored_event)                                -> void
//   t.replay(last_id, patterns, conn_meta, max_events)   -> replay_result
// When offered, the hub calls these instead, on its strand: registering a
// reconnecting client and taking its replay snapshot happen at one point, so
// nothing is held back or de-duplicated. They must therefore be short (a
// memory ring, a local database with an index); a replayer that waits on a
// network offers only the awaitable forms. Offering half of the pair is an
// error (both or neither), so a typo cannot silently disable the fast path.
template <class T>
concept sync_replayer = replayer<T> && detail::replayer_can_store_now<T> && detail::replayer_can_replay_now<T>;

// Optional: a replayer that can say how many events it holds (cheaply, on the
// hub's sequencer strand right after a store). The hub reports it as
// hub_stats::replay_events; memory_replayer does, the database-backed ones do not.
template <class T>
concept sized_replayer = requires(const T& t) {
    { t.size() } -> std::convertible_to<std::size_t>;
};

}  // namespace ssehub
