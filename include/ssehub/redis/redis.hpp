// ssehub::redis: scale-out on Redis (pub/sub fan-out, Streams replay, shared
// tickets, cluster-wide presence). Link ssehub::redis.
#pragma once

#include "ssehub/redis/cluster.hpp"
#include "ssehub/redis/event_codec.hpp"
#include "ssehub/redis/options.hpp"
#include "ssehub/redis/presence.hpp"
#include "ssehub/redis/publisher.hpp"
#include "ssehub/redis/streams_replayer.hpp"
#include "ssehub/redis/subscriber.hpp"
#include "ssehub/redis/ticket_store.hpp"
