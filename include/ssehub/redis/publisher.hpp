// Publishes events through Redis so that every node's hub delivers them: one
// Lua script appends the event to a Stream (XADD, MAXLEN ~ bound; the entry
// id becomes the event id) and PUBLISHes "<id>\n<event>" on the channel in
// the same atomic step, so pub/sub order is Stream order. Nodes bridge the
// channel into their hub with fan_out(redis_subscriber, redis_fan_out_config()).
// Thread safety: safe from any thread (commands are pipelined on one connection).
#pragma once

#include "ssehub/event.hpp"
#include "ssehub/fan_out/bridge.hpp"
#include "ssehub/redis/options.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>

namespace ssehub::redis {

namespace detail {
class command_client;
}

struct redis_publisher_config {
    std::string channel = "ssehub:events";  // the pub/sub channel every node subscribes to
    std::string stream = "ssehub:stream";   // the Stream replay reads ("" : no Stream, ids are then not replayable)
    std::size_t stream_max_len = 10000;     // MAXLEN ~ (approximate: Redis trims whole nodes)
    std::size_t max_topic_length = 256;     // as hub_config::max_topic_length
    // A caller's event id: the event keeps it on every node, and
    // `id_key_prefix + id` maps it to its Stream entry for `id_ttl` (a
    // reused id: to its first entry, as the Mercure draft asks), so a
    // client that reconnects with it is replayed from there
    // (streams_replayer_config::id_key_prefix, the same).
    std::string id_key_prefix = "ssehub:id:";
    std::chrono::milliseconds id_ttl{std::chrono::minutes(5)};
    // Not empty: sharded pub/sub by interest (Redis 7; a Redis Cluster, see
    // <ssehub/redis/cluster.hpp>) with sharded_channels{sharded_prefix}: the
    // script SPUBLISHes on {P}:all instead of `channel`, then the publisher
    // SPUBLISHes on each topic's channel {P:t:<topic>} (an event without
    // topics: {P}:groups). `stream` and `id_key_prefix` must then carry the
    // {P} hash tag (sharded_channels::key("stream"), key("id:")): the
    // script's keys and channel must share one slot.
    std::string sharded_prefix;
    // Not 0: after the script, WAIT until this many replicas have the
    // Stream entry (at most wait_timeout), so a publish the caller is told
    // succeeded survives its master's failover. Fewer in time: ec is
    // std::errc::timed_out and `id`/`replicas` say what happened: the event
    // IS on the master (delivered, replayable) but may be lost by a
    // failover; a retry may deliver it twice. Redis's WAIT has no rollback.
    std::size_t wait_replicas = 0;
    std::chrono::milliseconds wait_timeout{1000};
};

struct redis_publish_result {
    std::error_code ec;       // ssehub::error (invalid_topic, no_target, invalid_event_field), or a Redis failure
    std::string id;           // the event's id on every node: the caller's, else the Stream entry id
    std::size_t nodes = 0;    // subscribers that received it (one per node; sharded: summed over its channels)
    long long replicas = -1;  // with wait_replicas: the replicas that confirmed the write (-1: not asked)
};

class redis_publisher {
public:
    redis_publisher(asio::any_io_executor ex, redis_options o, redis_publisher_config cfg = {});
    ~redis_publisher();
    redis_publisher(redis_publisher&&) noexcept = default;
    redis_publisher& operator=(redis_publisher&&) noexcept = default;

    // Validates like hub::publish (a caller's id: no CR, LF or NUL, at most
    // 256 bytes, else invalid_event_field), then publishes. Never throws for a
    // Redis failure: ec says it (std::errc::connection_refused,
    // timed_out, ... or io_error for an error reply).
    asio::awaitable<redis_publish_result> async_publish(event ev);

    const connection_counters& counters() const noexcept;

private:
    std::shared_ptr<detail::command_client> client_;
    redis_publisher_config cfg_;
};

// The fan_out config that turns the publisher's messages back into events
// (with their Stream ids); messages that do not decode are dropped and
// counted (`dropped`).
fan_out_config redis_fan_out_config();

}  // namespace ssehub::redis
