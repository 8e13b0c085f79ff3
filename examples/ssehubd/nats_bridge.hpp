// --nats: scale-out on NATS, behind the same engine interface as --redis
// (redis_bridge.hpp): publishes go through NATS (one message per topic
// subject), every node subscribes only to the subjects its own clients want
// (interest-based, wildcards included) and delivers them. Replay stays
// node-local (the memory replayer), tickets too; with --nats-jetstream every
// event is stored in a stream, its sequence is its id on every node, and any
// node replays from the stream (nats_jetstream_replayer).
// Thread safety: as redis_bridge.
#pragma once

#include "redis_bridge.hpp"

namespace ssehubd {

// nullptr with *error set when ssehubd has no NATS support.
std::unique_ptr<redis_bridge> make_nats_bridge(asio::any_io_executor ex, const options& o, logger& log,
                                               std::string* error);

}  // namespace ssehubd
