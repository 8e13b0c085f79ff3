// Private, sans-io: a connection's pending batched and coalesced frames, and
// the adaptive flush-interval decision. No sockets, no clocks of their own.
#pragma once

#include "ssehub/config.hpp"
#include "ssehub/wire.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ssehub::detail {

using lane_clock = std::chrono::steady_clock;

// What a connection's queue holds: the shared frame, and when it was
// published (steady-clock ns; 0 for heartbeats and other control frames), for
// the publish-to-write latency histogram.
struct queued_frame {
    frame bytes;
    std::int64_t published_ns = 0;
};

// The adaptive interval from the fill level of a connection's queue:
// a fuller queue means a slower client, so it gets fewer, larger flushes.
std::chrono::milliseconds flush_interval_for(std::size_t queued, std::size_t capacity, const hub_config& cfg) noexcept;

// The fastest interval any connection can get: the flush timer's tick.
std::chrono::milliseconds fastest_flush_interval(const hub_config& cfg) noexcept;

class lane_buffer {
public:
    struct entry {
        queued_frame q;
        lane_clock::time_point expires;
    };
    struct coalesced_entry {
        std::shared_ptr<const std::string> key;
        queued_frame q;
        lane_clock::time_point expires;
    };

    // False when the batched list is at `cap` (the frame is not kept).
    bool add_batched(queued_frame f, lane_clock::time_point expires, std::size_t cap);

    // Last writer wins per key; a key keeps the position it was first seen at.
    // False when a new key would exceed `max_keys`.
    bool add_coalesced(const std::shared_ptr<const std::string>& key, queued_frame f, lane_clock::time_point expires,
                       std::size_t max_keys);

    // Appends batched (in publish order) then coalesced frames (in first-seen
    // key order) to `out`, skipping the expired ones; empties the buffer.
    // Returns how many were expired.
    std::size_t take(lane_clock::time_point now, std::vector<queued_frame>& out);

    // Discards the batched frames (a paused connection); returns how many.
    std::size_t discard_batched() noexcept;

    bool empty() const noexcept { return batched_.empty() && coalesced_.empty(); }
    bool has_batched() const noexcept { return !batched_.empty(); }
    std::size_t batched_size() const noexcept { return batched_.size(); }
    std::size_t coalesced_size() const noexcept { return coalesced_.size(); }

private:
    std::vector<entry> batched_;
    std::vector<coalesced_entry> coalesced_;
};

}  // namespace ssehub::detail
