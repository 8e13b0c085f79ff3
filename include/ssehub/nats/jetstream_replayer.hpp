// Last-Event-ID replay from the JetStream stream that nats_publisher writes
// with nats_options::jetstream.enabled: any node replays what any node
// published (ids are stream sequences, the same on every node), after a node
// or NATS restart too (file storage). The messages after the client's
// sequence are read in order (an ordered consumer from there), decoded, and
// filtered like every broker replay: topic patterns AND group ⊆ metadata
// (replay_entry()), expired events skipped, bounded by max_events (then
// `truncated`) and max_scan. A sequence the stream no longer has (older
// than its first message, or beyond its last: another stream) is unknown:
// the hub sends `resync`.
//
// Before reading, it waits until the node's live subscriptions for the
// client's patterns are confirmed by the server (follow()): everything
// stored after the read began is then delivered live, everything before is
// in the replay (the hub drops what comes both ways, by id).
//
// async_store does nothing: the publisher stored the event. Blocking C
// calls run on two threads of the replayer's own (shared by every replayer
// in the process), never on the hub's.
// Thread safety: safe from any thread.
#pragma once

#include "ssehub/nats/options.hpp"
#include "ssehub/nats/subscriber.hpp"
#include "ssehub/replay/replayer.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ssehub::nats {

namespace detail {
struct replayer_state;
}

struct jetstream_replayer_config {
    std::size_t max_scan = 10000;  // stream messages read per replay at most (then truncated → resync)
    // How long one server answer may take (stream info, the next message),
    // and the live subscriptions' confirmation; longer → the replay fails
    // (the client resyncs).
    std::chrono::milliseconds wait{2000};
    // Optional: rewrites each stored event before it is matched (as
    // fan_out_config::transform does for the live messages). Must not block.
    std::function<void(event&)> transform;
};

class nats_jetstream_replayer {
public:
    // Connects at once (in the background, retried like every ssehub::nats
    // connection). `o.jetstream` names the stream.
    explicit nats_jetstream_replayer(nats_options o, jetstream_replayer_config cfg = {});
    ~nats_jetstream_replayer();
    nats_jetstream_replayer(nats_jetstream_replayer&&) noexcept = default;
    nats_jetstream_replayer& operator=(nats_jetstream_replayer&&) noexcept = default;

    // The node's live subscriber (a copy of the one fan_out runs): replays
    // wait for its subscriptions (see above). Without it a replay may miss
    // events stored while the node's first subscription to a pattern was
    // on its way.
    void follow(nats_subscriber live);

    asio::awaitable<void> async_store(stored_event ev);  // no-op (see above)
    // Not a sequence, or one the stream does not have → known = false. NATS
    // unreachable, or the live subscriptions not confirmed → throws (the hub
    // then sends `resync`).
    asio::awaitable<replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                                const metadata& conn_meta, std::size_t max_events);

    const nats_counters& counters() const noexcept;

private:
    std::shared_ptr<detail::replayer_state> st_;
};

static_assert(replayer<nats_jetstream_replayer>);

}  // namespace ssehub::nats
