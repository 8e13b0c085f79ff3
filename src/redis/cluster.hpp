// Redis Cluster plumbing: the slot map (CLUSTER SHARDS), redirects (MOVED,
// ASK), which key a command routes by, and cluster_client, a command_client
// that sends each command to the shard owning its key's slot.
#pragma once

#include "client.hpp"

#include "ssehub/redis/cluster.hpp"

#include <map>
#include <random>

namespace ssehub::redis::detail {

constexpr std::size_t slot_count = 16384;

// Which master serves each slot.
struct slot_map {
    std::vector<redis_endpoint> shards;  // masters, in CLUSTER SHARDS order
    std::vector<std::uint16_t> owner;    // slot → index in shards (slot_count entries)

    const redis_endpoint& at(std::uint16_t slot) const { return shards[owner[slot]]; }
    // Points `slot` at `to` (a MOVED): adds the shard when new.
    void move(std::uint16_t slot, const redis_endpoint& to);
};

std::string endpoint_name(const redis_endpoint& e);

// A CLUSTER SHARDS reply → the map (every slot owned, else nullopt).
std::optional<slot_map> parse_shards(const reply& r);

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381".
struct redirect {
    bool ask = false;
    std::uint16_t slot = 0;
    redis_endpoint to;
};
std::optional<redirect> parse_redirect(std::string_view error);

// The key a command is routed by: EVAL's first key, a channel, else the
// first argument; nullopt when it has none (any shard serves it).
std::optional<std::string_view> command_key(const std::vector<std::string>& args);

// `o` aimed at one server.
redis_options at_endpoint(const redis_options& o, const redis_endpoint& e);

// Reads the map through one of `candidates` (in order; one short connection
// each). A server without cluster support is the one shard of every slot.
// Throws when none answers.
asio::awaitable<slot_map> fetch_slot_map(const redis_options& o, const std::vector<redis_endpoint>& candidates);

// Thread safety: safe from any thread (its state lives on a strand).
class cluster_client final : public command_client, public std::enable_shared_from_this<cluster_client> {
public:
    cluster_client(asio::any_io_executor ex, redis_options o);

    asio::awaitable<reply> exec(std::vector<std::string> args) override;
    asio::awaitable<std::vector<reply>> exec_many(std::vector<std::vector<std::string>> cmds) override;
    void close() override;
    connection_counters& counters() noexcept override { return *counters_; }

    // Slot map reads so far (tests, metrics).
    std::uint64_t refreshes() const noexcept { return refreshes_.load(); }

private:
    asio::awaitable<reply> run_one(std::vector<std::string> args);
    asio::awaitable<std::vector<reply>> run_many(std::vector<std::vector<std::string>> cmds);
    asio::awaitable<void> ensure_map();
    asio::awaitable<void> refresh();
    void request_refresh();
    std::shared_ptr<node_client> client_for(const redis_endpoint& e);

    redis_options opts_;
    asio::strand<asio::any_io_executor> strand_;
    std::shared_ptr<connection_counters> counters_;
    std::atomic<std::uint64_t> refreshes_{0};
    // strand only:
    std::optional<slot_map> map_;
    std::map<std::string, std::shared_ptr<node_client>> nodes_;  // by endpoint_name
    bool refreshing_ = false;
    bool refresh_scheduled_ = false;  // request_refresh: one waits for its turn
    asio::steady_timer refreshed_signal_;
    std::chrono::steady_clock::time_point next_refresh_{};
    unsigned failures_ = 0;
    std::mt19937 rng_{std::random_device{}()};
};

}  // namespace ssehub::redis::detail
