// Cluster-wide presence and admin disconnects on Redis: every node keeps its
// own connections in a hash that expires (PREFIX:presence:<node>, id → entry
// JSON, PEXPIRE ttl renewed every `refresh`), so a node that dies takes its
// entries with it after `ttl`; a query on any node reads every live node's
// hash and merges them (sorted by id, paged like hub::async_presence).
// Disconnects are published on PREFIX:admin; every node applies them to its
// own hub and answers its count on PREFIX:admin:<asking node>.
// The node reports its connections: call joined() from
// serve_options::on_open and left() from hub_config::on_disconnect
// (docs/presence-and-admin.md#cluster-wide-with---redis).
// Thread safety: safe from any thread after construction; start() once.
#pragma once

#include "ssehub/presence.hpp"
#include "ssehub/redis/options.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace ssehub {
class hub;
class connection;
}  // namespace ssehub

namespace ssehub::redis {

struct redis_presence_config {
    // Keys PREFIX:presence:<node> and PREFIX:presence:nodes; channels PREFIX:admin and PREFIX:admin:<node>.
    std::string prefix = "ssehub";
    std::string node;               // this node's name, unique in the cluster (required)
    std::chrono::milliseconds refresh{1000};       // how often the node renews its entries' TTL
    std::chrono::milliseconds ttl{5000};           // entries outlive the node's last renewal this long (> refresh)
    std::chrono::milliseconds reply_timeout{1000}; // a disconnect waits this long for every node's count
    std::size_t max_presence_page = 1000;          // as hub_config::max_presence_page
    std::size_t max_topic_length = 256;            // as hub_config::max_topic_length
};

// A page of the merged, cluster-wide presence list (the fields of
// presence_page, plus where each entry lives).
struct cluster_presence_page {
    std::error_code ec;                    // Redis unreachable, or invalid_topic (nothing read)
    std::size_t total = 0;                 // matches on every live node
    std::vector<presence_entry> entries;   // at most `limit`, sorted by id
    std::vector<std::string> entry_nodes;  // entry_nodes[i]: the node holding entries[i]
    std::string next;                      // cursor for the next page ("" on the last)
    std::size_t nodes = 0;                 // live nodes read
};

// The live nodes (renewed within their TTL), each with how many streams its
// presence hash holds: what an operator's dashboard shows per node.
struct cluster_nodes {
    std::error_code ec;  // Redis unreachable
    struct node {
        std::string id;
        std::size_t connections = 0;
        std::int64_t expires_ms = 0;  // Redis's clock: its entries vanish then unless renewed
    };
    std::vector<node> nodes;  // by id
};

struct cluster_disconnect_result {
    std::error_code ec;            // Redis unreachable (nothing was sent), or invalid_topic
    std::size_t disconnected = 0;  // the sum of the counts the nodes answered
    std::size_t nodes = 0;         // nodes that received the request (PUBLISH's count)
    std::size_t answered = 0;      // nodes whose count came within reply_timeout
};

class redis_presence {
public:
    redis_presence(asio::any_io_executor ex, redis_options o, redis_presence_config cfg);
    ~redis_presence();
    redis_presence(const redis_presence&) = delete;
    redis_presence& operator=(const redis_presence&) = delete;

    // Starts the refresh loop and the admin subscriber as the hub's
    // background work (hub::spawn: they end with its shutdown). The hub
    // must outlive that shutdown.
    void start(hub& h);

    // This node's connections, as they start and end. Never block: the
    // writes to Redis are batched by the refresh loop (at once when idle).
    void joined(const connection& c);
    void left(const connection& c);

    // Every live node's entries, filtered and paged as hub::async_presence.
    asio::awaitable<cluster_presence_page> async_presence(presence_query q);
    // The live nodes and their stream counts (one ZRANGE and an HLEN per node).
    asio::awaitable<cluster_nodes> async_nodes();
    // hub::disconnect(id) on every node (`disconnected` is 1 where it was).
    asio::awaitable<cluster_disconnect_result> async_disconnect(std::string connection_id, std::string reason);
    // hub::async_disconnect(filter) on every node.
    asio::awaitable<cluster_disconnect_result> async_disconnect(presence_filter filter, std::string reason);

    // The command connection's health.
    const connection_counters& counters() const noexcept;

    struct state;

private:
    std::shared_ptr<state> s_;
};

}  // namespace ssehub::redis
