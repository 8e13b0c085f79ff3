// Where Redis is and how long to wait for it; shared by every ssehub::redis
// type. A plain value type. Thread safety: Distinct objects: safe. Shared
// objects: unsafe.
#pragma once

#include "ssehub/logger.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ssehub::redis {

// One server of a Redis Cluster.
struct redis_endpoint {
    std::string host;
    unsigned short port = 0;
};

struct redis_options {
    using ms = std::chrono::milliseconds;

    std::string host = "127.0.0.1";
    unsigned short port = 6379;
    std::string username;  // ACL user (AUTH user pass); empty: AUTH pass, or no AUTH without a password
    std::string password;
    int db = 0;            // SELECT db (when not 0)
    // Not empty: a Redis Cluster, reached through any of these servers (the
    // slot map comes from CLUSTER SHARDS, Redis 7.0+); host and port above
    // are then unused. Commands go to the shard owning their key's slot.
    // A server without cluster support is taken as the one shard of all slots.
    std::vector<redis_endpoint> cluster;

    ms connect_timeout{2000};  // TCP connect + AUTH/SELECT
    ms command_timeout{2000};  // a command without a reply this long closes the connection
    // After a failed connect, commands fail at once (no waiting) until the
    // next attempt is due: reconnect_initial × 2^failures, at most reconnect_max.
    ms reconnect_initial{100};
    ms reconnect_max{5000};
    std::size_t max_pending = 10000;  // commands queued or in flight per connection; more fail at once
    // Where an exception that ends a connection's reader or writer is
    // reported (default: stderr, errors only).
    ssehub::logger log;
};

// redis://[[user]:password@]host[:port][/db] (also "host:port" and "host").
// nullopt on a malformed URL, with the reason in *error.
std::optional<redis_options> parse_redis_url(std::string_view url, std::string* error = nullptr);

// "host:port,host:port,..." (each item as parse_redis_url takes it; the
// credentials of the first apply to all, no database): the cluster's seeds.
std::optional<redis_options> parse_redis_cluster(std::string_view list, std::string* error = nullptr);

// Connection health, for metrics and readiness. Atomics: safe from any thread.
struct connection_counters {
    std::atomic<std::uint64_t> connect_attempts{0};
    std::atomic<std::uint64_t> connect_failures{0};
    std::atomic<std::uint64_t> command_errors{0};  // commands that failed (connection down, timeout, error reply)
    std::atomic<bool> connected{false};
};

}  // namespace ssehub::redis
