// Redis pub/sub as a `pubsub_subscriber`: SUBSCRIBE to channels and
// PSUBSCRIBE to patterns on its own connection, deliver every message to the
// sink. One run is one connection: fan_out runs it again (and so
// resubscribes) after the connection ends.
// Thread safety: Distinct objects: safe. Shared objects: unsafe (one
// async_run at a time).
#pragma once

#include "ssehub/fan_out/pubsub_subscriber.hpp"
#include "ssehub/redis/options.hpp"

#include <memory>
#include <string>
#include <vector>

namespace ssehub::redis {

class redis_subscriber {
public:
    redis_subscriber(redis_options o, std::vector<std::string> channels, std::vector<std::string> patterns = {});

    // Connects, subscribes, delivers until cancelled (throws
    // operation_aborted then) or until the connection ends (throws).
    asio::awaitable<void> async_run(pubsub_sink& sink);

    // Connection health (attempts, failures, connected now); shared by copies.
    const connection_counters& counters() const noexcept { return *counters_; }

private:
    redis_options opts_;
    std::vector<std::string> channels_;
    std::vector<std::string> patterns_;
    std::shared_ptr<connection_counters> counters_;
};

static_assert(pubsub_subscriber<redis_subscriber>);

}  // namespace ssehub::redis
