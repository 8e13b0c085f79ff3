// Redis Cluster with interest-based routing (Redis 7 sharded pub/sub).
//
// Replay and ids stay on ONE ordered Stream, in the "sequencer" slot of the
// hash tag {PREFIX}: the publish script XADDs to {PREFIX}:stream (its id is
// the event id, so ids stay totally ordered and comparable on every node and
// shard) and SPUBLISHes "<id>\n<event>" on {PREFIX}:all. The publisher then
// SPUBLISHes the same message on each of the event's topic channels
// {PREFIX:t:<topic>} (the hash tag is the topic, so topics spread over the
// shards), or on {PREFIX}:groups for an event with a group and no topic.
// A node SSUBSCRIBEs, on the shard that owns each channel, to the topic
// channels its clients want (hub::watch_patterns: first client in, last
// client out), to {PREFIX}:all while any of its clients has a wildcard
// pattern (sharded pub/sub has no pattern form: such a node receives every
// event), and always to {PREFIX}:groups. Copies (a node on both, an event on
// two topics) are dropped by id.
// Every Redis type routes to a cluster when redis_options::cluster is set.
// Thread safety: key_slot and sharded_channels: pure. The subscriber:
// Distinct objects: safe. Shared objects: unsafe (one async_run at a time).
#pragma once

#include "ssehub/fan_out/pubsub_subscriber.hpp"
#include "ssehub/redis/options.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ssehub {
class hub;
}

namespace ssehub::redis {

// The cluster slot of a key (or channel): CRC16-XMODEM of its hash tag (the
// text between the first '{' and the next '}', when not empty) or of the
// whole key, mod 16384 — as CLUSTER KEYSLOT computes it.
std::uint16_t key_slot(std::string_view key) noexcept;

// The names used on a cluster for prefix P.
struct sharded_channels {
    std::string prefix = "ssehub";
    // "{P}:<name>": the sequencer slot (stream, caller-id keys, presence).
    std::string key(std::string_view name) const { return "{" + prefix + "}:" + std::string(name); }
    std::string all() const { return key("all"); }        // every event, from the publish script
    std::string groups() const { return key("groups"); }  // events with a group and no topic
    std::string topic(std::string_view t) const { return "{" + prefix + ":t:" + std::string(t) + "}"; }
};

struct cluster_subscriber_config {
    std::string prefix = "ssehub";     // as sharded_channels::prefix
    std::size_t dedupe_window = 10000; // ids remembered to drop copies (0: no dedupe)
};

struct cluster_subscriber_counters {
    std::atomic<std::uint64_t> messages{0};    // messages read from Redis, copies included
    std::atomic<std::uint64_t> bytes{0};       // their payload bytes
    std::atomic<std::uint64_t> duplicates{0};  // copies dropped by id
    std::atomic<std::uint64_t> channels{0};    // channels subscribed now (confirmed)
    std::atomic<std::uint64_t> shards{0};      // shard connections now
    std::atomic<std::uint64_t> slot_moves{0};  // MOVED replies and sunsubscribes we did not ask for (a resharding)
    connection_counters conn;                  // connects to the shards; connected: subscribed
};

class redis_cluster_subscriber {
public:
    // Subscribes to what `interest`'s connections subscribe to (the hub must
    // outlive the runs: the fan_out bridge ends them with the hub's shutdown).
    redis_cluster_subscriber(redis_options o, hub& interest, cluster_subscriber_config cfg = {});
    // Subscribes to these patterns, always (tests, tools).
    redis_cluster_subscriber(redis_options o, std::vector<std::string> patterns, cluster_subscriber_config cfg = {});

    // Reads the slot map (CLUSTER SHARDS from any known server), connects to
    // the shards owning the channels wanted (one connection per shard, on
    // demand), SSUBSCRIBEs, and delivers (in id order within one read round,
    // copies dropped) until cancelled. A shard connection that ends, a MOVED
    // reply or a slot moved away ends the run with an exception: fan_out runs
    // it again after its backoff (with jitter), which reads the map afresh
    // and resubscribes everything.
    asio::awaitable<void> async_run(pubsub_sink& sink);

    // Shared by copies.
    const cluster_subscriber_counters& counters() const noexcept { return *counters_; }

private:
    redis_options opts_;
    hub* interest_ = nullptr;
    std::vector<std::string> patterns_;
    cluster_subscriber_config cfg_;
    std::shared_ptr<cluster_subscriber_counters> counters_;
    std::shared_ptr<std::vector<redis_endpoint>> known_;  // masters seen in the last map (besides the seeds)
};

static_assert(pubsub_subscriber<redis_cluster_subscriber>);

}  // namespace ssehub::redis
