// memory_replayer: the built-in replayer, a bounded in-memory ring of the
// newest events. It offers the synchronous fast path (sync_replayer).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>

#include "ssehub/replay/replayer.hpp"

namespace ssehub {

struct memory_replayer_config {
    std::size_t max_events = 1000;  // ring size; the oldest event is evicted beyond it (0: store nothing)
    std::chrono::milliseconds max_age{std::chrono::minutes(5)};  // older events are evicted; 0: no age limit
    // Clock for age checks, same epoch as stored_event::at; empty: steady_clock::now (tests inject).
    std::function<std::chrono::steady_clock::time_point()> clock;
    // A Last-Event-ID equal to this (not empty) replays every stored event
    // (Mercure's `earliest`); publishers must not use it as an id. Empty: none.
    std::string earliest_id;
};

// A bounded ring of the newest events with an index from id to position, so
// finding the resume point is O(1), not a scan. Replay cost: O(events stored
// after the resume point), at most max_events. Replayed frames are shared
// with the ring, not copied.
// The synchronous store()/replay() are its fast path: the hub calls them on
// its strand; the awaitable forms wrap them.
// Thread safety: not synchronised. Distinct objects: safe. Shared objects:
// unsafe (use it from the hub strand only).
class memory_replayer {
public:
    explicit memory_replayer(memory_replayer_config config = {});
    // Movable, not copyable: the index points into the ring's elements, which
    // a move keeps in place (std::deque moves its blocks, not its elements).
    memory_replayer(memory_replayer&&) = default;
    memory_replayer& operator=(memory_replayer&&) = default;
    memory_replayer(const memory_replayer&) = delete;
    memory_replayer& operator=(const memory_replayer&) = delete;

    // Appends `ev`, evicting by age, then by count. An event whose id repeats
    // an older one becomes the resume point for that id. An empty id is stored
    // (it is replayed after older ids) but cannot be resumed from.
    void store(stored_event ev);

    // The stored events after `last_id` that replay_matches() the patterns and
    // conn_meta. Expired events (max_age, TTL) are skipped; an expired or
    // unknown last_id gives known = false. At most max_events events, in store
    // order; truncated when more matched.
    replay_result replay(std::string_view last_id, const std::vector<std::string>& patterns,
                         const metadata& conn_meta, std::size_t max_events) const;

    asio::awaitable<void> async_store(stored_event ev);
    asio::awaitable<replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                                const metadata& conn_meta, std::size_t max_events);

    std::size_t size() const noexcept { return ring_.size(); }
    const memory_replayer_config& config() const noexcept { return cfg_; }

private:
    std::chrono::steady_clock::time_point now() const;
    bool too_old(const stored_event& ev, std::chrono::steady_clock::time_point now) const noexcept;
    void evict_front();

    memory_replayer_config cfg_;
    std::deque<stored_event> ring_;  // oldest first; ring_[i] has sequence first_seq_ + i
    std::uint64_t first_seq_ = 0;
    // id -> sequence. Keys view the ids inside ring_ (stable: a deque never
    // relocates elements on push_back/pop_front), so an id is stored once.
    std::unordered_map<std::string_view, std::uint64_t> index_;
};

static_assert(sync_replayer<memory_replayer>);
static_assert(sized_replayer<memory_replayer>);  // the dashboard shows its size

}  // namespace ssehub
