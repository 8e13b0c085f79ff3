// The `pubsub_subscriber` concept: what a broker client (Redis pub/sub, NATS,
// Kafka...) offers so that a bridge can feed its messages into a hub, and the
// sink it delivers to. The bridge that drives the hub is
// <ssehub/fan_out/bridge.hpp>.
#pragma once

#include <asio/awaitable.hpp>

#include <concepts>
#include <string>

namespace ssehub {

// One message from a broker.
struct pubsub_message {
    std::string channel;  // the channel it was published to
    std::string pattern;  // the pattern subscription that matched it; empty for a plain subscription
    std::string payload;
};

// Where a subscriber delivers. Thread safety: safe from any thread.
class pubsub_sink {
public:
    virtual ~pubsub_sink() = default;
    // A message arrived.
    virtual void message(pubsub_message m) = 0;
    // Every subscription of this run is in place: the bridge counts the
    // subscriber as connected and resets its backoff. Optional to call.
    virtual void subscribed() = 0;
};

namespace detail {

// Split so that a diagnostic names the operation a type lacks.
template <class T>
concept subscriber_can_run = requires(T& t, pubsub_sink& sink) {
    { t.async_run(sink) } -> std::same_as<asio::awaitable<void>>;
};

}  // namespace detail

// T subscribes and delivers:
//   co_await t.async_run(sink) -> void
// Subscribes to what T was configured with, calls sink.message() for each
// message (and sink.subscribed() once subscribed), and runs until cancelled
// (Asio per-operation cancellation: it then ends, normally or by throwing)
// or until its connection ends (return or throw: fan_out runs it again after
// a backoff). `sink` outlives the call.
template <class T>
concept pubsub_subscriber = detail::subscriber_can_run<T>;

}  // namespace ssehub
