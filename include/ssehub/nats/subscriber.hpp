// NATS as a `pubsub_subscriber`, interest-based: it subscribes to the
// subject of each pattern that a connection of the hub subscribes to, while
// one does (hub::watch_patterns), so a node receives only its clients'
// traffic. Wildcard patterns are NATS wildcards (`*`, `>`): "orders.*"
// becomes one subscription to "PREFIX.orders.*". Events with a group and no
// topic come on one subject every node subscribes to.
//
// The C client delivers on its own thread; the subscriber hands each message
// to the run's executor (a post, never a wait: more than
// nats_options::max_pending waiting are dropped and counted) and drops the
// copies NATS delivers once per matching subscription (by id). One run is
// one NATS connection, which reconnects on its own (and resubscribes) until
// the run is cancelled.
//
// JetStream (nats_options::jetstream.enabled): it subscribes to the live
// subjects the stream republishes to ("PREFIX_live.PREFIX.orders.*", and
// the multi-topic and group subjects), and each event's id is its stream
// sequence (the Nats-Sequence header).
// Thread safety: Distinct objects: safe. Shared objects: unsafe (one
// async_run at a time).
#pragma once

#include "ssehub/fan_out/pubsub_subscriber.hpp"
#include "ssehub/nats/options.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace ssehub {
class hub;
}

namespace ssehub::nats {

namespace detail {
struct run_slot;
}

class nats_subscriber {
public:
    // Subscribes to what `interest`'s connections subscribe to (the hub must
    // outlive the runs: the fan_out bridge ends them with the hub's shutdown).
    nats_subscriber(nats_options o, hub& interest);
    // Subscribes to these patterns, always.
    nats_subscriber(nats_options o, std::vector<std::string> patterns);

    // Connects (a NATS server that is down is retried by the C client) and
    // delivers until cancelled; then closes the connection and returns.
    // Throws when the connection cannot be created (a malformed URL).
    asio::awaitable<void> async_run(pubsub_sink& sink);

    // Shared by copies (fan_out keeps one, the caller may keep another).
    const nats_counters& counters() const noexcept { return *counters_; }

    // True once the server has the subscriptions of the running run (of this
    // subscriber or a copy) for each of `patterns` (with fixed patterns: for
    // those, whatever `patterns` says) and the fixed subjects,
    // confirmed by a round trip after their SUB; false after `timeout`, or
    // when no run is connected. A replay that starts after it misses nothing
    // the live subscription would not deliver (nats_jetstream_replayer).
    asio::awaitable<bool> async_subscribed(std::vector<std::string> patterns, std::chrono::milliseconds timeout) const;

private:
    nats_options opts_;
    hub* interest_ = nullptr;
    std::vector<std::string> patterns_;
    std::shared_ptr<nats_counters> counters_;
    std::shared_ptr<detail::run_slot> slot_;  // shared by copies
};

static_assert(pubsub_subscriber<nats_subscriber>);

}  // namespace ssehub::nats
