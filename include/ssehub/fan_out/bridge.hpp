// The fan-out bridge: feeds an external broker (Redis pub/sub, NATS,
// Kafka...) into a hub. A `pubsub_subscriber` (pubsub_subscriber.hpp)
// subscribes to its channels (or patterns) and hands each message to a
// `pubsub_sink` until it is cancelled or its connection ends; `fan_out` runs
// it again and again (exponential backoff with jitter between runs, never a
// busy loop) and publishes each message into the hub as an event, until
// `stop()` or `hub.async_shutdown`.
//
//   my_broker b;                                       // any pubsub_subscriber
//   ssehub::fan_out_config cfg;
//   cfg.event_type = "order";                          // channel → topic by default
//   auto bridge = ssehub::fan_out(hub, std::move(b), cfg);
//   ... bridge.counters().published ...
#pragma once

#include "ssehub/event.hpp"
#include "ssehub/fan_out/pubsub_subscriber.hpp"

#include <asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ssehub {

class hub;

// Counters of one bridge. Thread safety: atomics, safe from any thread.
struct fan_out_counters {
    std::atomic<std::uint64_t> received{0};   // messages from the broker
    std::atomic<std::uint64_t> published{0};  // handed to the hub
    std::atomic<std::uint64_t> dropped{0};    // dropped by the transform
    std::atomic<std::uint64_t> expired{0};    // TTL passed before they reached the hub
    std::atomic<std::uint64_t> errors{0};     // subscriber runs that failed + publishes the hub refused
    std::atomic<std::uint64_t> reconnects{0}; // subscriber runs started after the first
    std::atomic<std::size_t> connected{0};    // subscribers subscribed now
};

struct fan_out_config {
    using ms = std::chrono::milliseconds;

    // Event built from a message: topic `topic` (empty: the channel name),
    // type `event_type` (empty: "message"), data = the payload.
    std::string topic;
    std::string event_type;
    priority lane = priority::instant;
    std::string coalesce_key;  // coalesced lane; empty: the event type
    ms ttl{0};                 // 0: never expires
    // Optional: rewrites the event (or drops the message: nullopt). Runs on
    // the bridge's strand; must not block.
    std::function<std::optional<event>(const pubsub_message&, event)> transform;

    // Between subscriber runs: initial × factor^n, at most backoff_max,
    // ± jitter (a fraction). A run that subscribed resets n.
    ms backoff_initial{100};
    ms backoff_max{30000};
    double backoff_factor = 2.0;
    double backoff_jitter = 0.2;
};

namespace detail {
struct fan_out_state;
using subscriber_run = std::function<asio::awaitable<void>(pubsub_sink&)>;
}  // namespace detail

// A running bridge. Copies share it. Stopping is idempotent; the bridge also
// stops when its hub starts shutting down, and its loops are the hub's
// background work (hub::spawn): async_shutdown completes after they have
// ended. The hub must outlive the bridge: shut the hub down, or stop() the
// bridge, before destroying the hub.
// Thread safety: safe from any thread.
class fan_out_handle {
public:
    fan_out_handle() = default;
    explicit fan_out_handle(std::shared_ptr<detail::fan_out_state> s) noexcept : state_(std::move(s)) {}

    const fan_out_counters& counters() const noexcept;
    // Cancels the subscribers and the backoff waits; no message reaches the
    // hub after it returns.
    void stop();
    // True once every subscriber loop has ended.
    bool finished() const noexcept;

private:
    std::shared_ptr<detail::fan_out_state> state_;
};

namespace detail {
fan_out_handle start_fan_out(hub& h, std::vector<subscriber_run> runs, fan_out_config cfg);

template <class S>
asio::awaitable<void> run_one(std::shared_ptr<S> p, pubsub_sink& sink) {
    co_await p->async_run(sink);  // p keeps the subscriber alive for the whole run
}

template <pubsub_subscriber S>
subscriber_run make_run(S s) {
    auto p = std::make_shared<S>(std::move(s));
    return [p](pubsub_sink& sink) { return run_one(p, sink); };
}
}  // namespace detail

// Starts bridging `subscriber` into `h` on the hub's execution context.
template <pubsub_subscriber S>
fan_out_handle fan_out(hub& h, S subscriber, fan_out_config cfg = {}) {
    std::vector<detail::subscriber_run> runs;
    runs.push_back(detail::make_run(std::move(subscriber)));
    return detail::start_fan_out(h, std::move(runs), std::move(cfg));
}

// Several subscribers (e.g. one per shard), one config, shared counters.
template <pubsub_subscriber S>
fan_out_handle fan_out_multi(hub& h, std::vector<S> subscribers, fan_out_config cfg = {}) {
    std::vector<detail::subscriber_run> runs;
    for (auto& s : subscribers) runs.push_back(detail::make_run(std::move(s)));
    return detail::start_fan_out(h, std::move(runs), std::move(cfg));
}

}  // namespace ssehub
