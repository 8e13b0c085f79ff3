// Last-Event-ID replay from the Redis Stream that redis_publisher writes:
// any node replays what any node published, after a hub restart too. The
// Last-Event-ID is a Stream entry id; the entries after it are read in pages
// (XRANGE), decoded, and filtered by topic patterns AND group ⊆ metadata
// (a tenant never gets another tenant's replay), skipping expired events.
// async_store does nothing: redis_publisher already appended the event
// (with the id the hub stamped), so nodes never write it twice.
// Thread safety: safe from any thread.
#pragma once

#include "ssehub/redis/options.hpp"
#include "ssehub/replay/replayer.hpp"

#include <asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <cstddef>
#include <memory>
#include <string>

namespace ssehub::redis {

namespace detail {
class command_client;
}

struct streams_replayer_config {
    std::string stream = "ssehub:stream";  // same as redis_publisher_config::stream
    std::size_t page = 256;                // entries per XRANGE
    std::size_t max_scan = 10000;          // entries read per replay at most (then truncated → resync)
    std::chrono::milliseconds max_age{std::chrono::minutes(5)};  // older entries are not replayed (0: no limit)
    // Where a caller's event id is mapped to its Stream entry (as
    // redis_publisher_config::id_key_prefix); "": only Stream ids resume.
    std::string id_key_prefix = "ssehub:id:";
    // A Last-Event-ID equal to this (not empty) replays the whole Stream
    // within max_age (Mercure's `earliest`); publishers must not use it as an id.
    std::string earliest_id;
    // Optional: rewrites each stored event before it is matched against the
    // reconnecting client's topics, as fan_out_config::transform does for
    // the live messages (an application that routes on the receiving node,
    // as ssehubd's Mercure endpoint does). Must not block.
    std::function<void(event&)> transform;
};

class redis_streams_replayer {
public:
    redis_streams_replayer(asio::any_io_executor ex, redis_options o, streams_replayer_config cfg = {});
    ~redis_streams_replayer();
    redis_streams_replayer(redis_streams_replayer&&) noexcept = default;
    redis_streams_replayer& operator=(redis_streams_replayer&&) noexcept = default;

    asio::awaitable<void> async_store(stored_event ev);  // no-op (see above)
    // Unknown id (not a Stream id, trimmed, older than max_age) → known = false.
    // Redis unreachable → throws (the hub then sends `resync`).
    asio::awaitable<replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                                const metadata& conn_meta, std::size_t max_events);

    const connection_counters& counters() const noexcept;

private:
    std::shared_ptr<detail::command_client> client_;
    streams_replayer_config cfg_;
};

static_assert(replayer<redis_streams_replayer>);

}  // namespace ssehub::redis
