// Publishes events through NATS so that every node subscribed to their
// topics delivers them: one message "<id>\n<event JSON>" (the codec of
// <ssehub/event_codec.hpp>) per topic, on the topic's subject. The id is
// made here (unique per publisher: a random 64-bit prefix and a counter) so
// that every node stamps the same one and drops the copies of a message
// with several topics. Nodes bridge the subjects into their hub with
// fan_out(nats_subscriber, nats_fan_out_config()).
//
// With nats_options::jetstream.enabled the event is one message stored in
// the stream instead (on the subject of its topic, or "PREFIX_multi" for
// several, "PREFIX_groups" for none), async_publish waits for the server's
// ack, and the id is the stream sequence the ack carries (every node
// receives the same from the stream's republish). The stream is looked up,
// and created when missing, on every (re)connect.
// Thread safety: safe from any thread.
#pragma once

#include "ssehub/event.hpp"
#include "ssehub/fan_out/bridge.hpp"
#include "ssehub/nats/options.hpp"

#include <asio/awaitable.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>

namespace ssehub::nats {

namespace detail {
struct link;
struct js_state;
}

struct nats_publisher_config {
    std::size_t max_topic_length = 256;  // as hub_config::max_topic_length
};

struct nats_publish_result {
    std::error_code ec;        // ssehub::error (invalid_topic, no_target, invalid_event_field), or
                               // std::errc::connection_refused while NATS is down, io_error from the C client
    std::string id;            // the event's id on every node (JetStream: its stream sequence)
    std::size_t messages = 0;  // messages sent (one per topic, JetStream: one; NATS does not say how many nodes got them)
};

class nats_publisher {
public:
    // Starts connecting at once (in the background: a server that is down
    // is retried with nats_options' backoff).
    explicit nats_publisher(nats_options o, nats_publisher_config cfg = {});
    ~nats_publisher();
    nats_publisher(nats_publisher&&) noexcept = default;
    nats_publisher& operator=(nats_publisher&&) noexcept = default;

    // Validates like hub::publish (ids are made here: a caller id is refused
    // with invalid_event_field), then hands the messages to the C client
    // (no wait for the server). Never throws for a NATS failure.
    // JetStream: completes when the server has stored the event (its ack),
    // without blocking a thread; refused at once (connection_refused) while
    // the connection or the stream is not there or max_inflight publishes
    // wait; timed_out after publish_timeout, io_error when the server refuses.
    asio::awaitable<nats_publish_result> async_publish(event ev);
    // The same, as a plain call (it never waits). JetStream: refused
    // (operation_not_supported): the id comes with the ack, use async_publish.
    nats_publish_result publish(event ev);

    const nats_counters& counters() const noexcept;
    // Publishes would be tried now: connected, and (JetStream) the stream is known to exist.
    bool ready() const noexcept;

private:
    std::error_code validate(const event& ev) const;

    std::shared_ptr<detail::link> link_;
    std::shared_ptr<detail::js_state> js_;  // JetStream only
    nats_publisher_config cfg_;
    std::string id_prefix_;
    std::shared_ptr<std::atomic<std::uint64_t>> next_;
};

// The fan_out config that turns the publisher's messages back into events
// (with their ids); messages that do not decode, or whose TTL passed on the
// way, are dropped and counted (`dropped`).
fan_out_config nats_fan_out_config();

}  // namespace ssehub::nats
