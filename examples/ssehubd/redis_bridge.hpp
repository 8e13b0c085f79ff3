// --redis: what ssehubd adds to a node for scale-out. Publishes go through
// Redis (redis_publisher: Stream + pub/sub in one step), every node bridges
// the channel into its hub (fan_out + redis_subscriber), replay reads the
// Stream (redis_streams_replayer), tickets live in Redis (redis_ticket_store).
// Presence and admin disconnects are cluster-wide (redis_presence: each node's
// entries in an expiring hash, disconnects broadcast on PREFIX:admin).
// Built with ssehub::redis when available; otherwise create() refuses --redis.
// Thread safety: safe from any thread after start().
#pragma once

#include "log.hpp"
#include "options.hpp"

#include <ssehub/hub.hpp>
#include <ssehub/redis/presence.hpp>  // its result types only (no hiredis needed)
#include <ssehub/ticket_store.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace ssehubd {

struct redis_publish_outcome {
    std::error_code ec;
    std::string id;
    std::size_t nodes = 0;
    long long replicas = -1;  // --redis-wait-replicas: replicas that confirmed it (-1: not asked)
};

class redis_bridge {
public:
    // nullptr with *error set when the URL is bad or ssehubd has no Redis support.
    static std::unique_ptr<redis_bridge> create(asio::any_io_executor ex, const options& o, logger& log,
                                                std::string* error);
    virtual ~redis_bridge() = default;

    // The Stream replayer (when --replay-size > 0) and, with --auth tickets, the ticket store.
    virtual void configure(ssehub::hub_config& cfg) = 0;
    virtual ssehub::any_ticket_store tickets() = 0;
    // Starts bridging Redis into the hub (stops with the hub's shutdown).
    virtual void start(ssehub::hub& hub) = 0;
    virtual asio::awaitable<redis_publish_outcome> publish(ssehub::event ev) = 0;
    // The subscriber is subscribed now.
    virtual bool up() const = 0;
    // Prometheus families (HELP/TYPE/samples), appended to /metrics.
    virtual std::string prometheus() const = 0;
    const std::string& node() const noexcept { return node_; }
    // Rewrites every event that arrives from Redis, live or replayed from
    // the Stream, on the receiving node (the Mercure endpoint routes its
    // updates there). Set before configure() and start().
    void set_transform(std::function<void(ssehub::event&)> t) { transform_ = std::move(t); }

    // Cluster-wide presence (docs/presence-and-admin.md): false for an
    // engine without it (NATS), whose admin routes stay node-local.
    virtual bool cluster() const { return false; }
    // This node's streams as they start (serve_options::on_open) and end.
    virtual void joined(const ssehub::connection&) {}
    virtual void left(const ssehub::connection&) {}
    // Only where cluster() is true.
    virtual asio::awaitable<ssehub::redis::cluster_presence_page> presence(ssehub::presence_query q);
    virtual asio::awaitable<ssehub::redis::cluster_nodes> nodes();
    virtual asio::awaitable<ssehub::redis::cluster_disconnect_result> disconnect(std::string id, std::string reason);
    virtual asio::awaitable<ssehub::redis::cluster_disconnect_result> disconnect(ssehub::presence_filter f,
                                                                               std::string reason);

protected:
    std::string node_;
    std::function<void(ssehub::event&)> transform_;
};

}  // namespace ssehubd
