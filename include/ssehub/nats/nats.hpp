// ssehub::nats: scale-out on NATS (interest-based fan-out: a node subscribes
// only to its clients' subjects). Link ssehub::nats.
#pragma once

#include "ssehub/nats/jetstream_replayer.hpp"
#include "ssehub/nats/options.hpp"
#include "ssehub/nats/publisher.hpp"
#include "ssehub/nats/subscriber.hpp"
