// The Redis protocol on Asio: replies read with hiredis's reader, commands
// formatted with hiredis's formatter (no RESP code of our own), a connect
// with AUTH/SELECT, and a pipelined, reconnecting command client.
#pragma once

#include "ssehub/redis/options.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

struct redisReader;

namespace ssehub::redis::detail {

struct reply {
    enum class kind { string, status, error, integer, nil, array };
    kind type = kind::nil;
    std::string str;          // string, status, error
    long long integer = 0;
    std::vector<reply> elements;

    bool is_error() const noexcept { return type == kind::error; }
};

// hiredis's reply reader behind a small C++ face.
class reply_reader {
public:
    reply_reader();
    ~reply_reader();
    reply_reader(const reply_reader&) = delete;
    reply_reader& operator=(const reply_reader&) = delete;

    // Throws std::system_error(std::errc::protocol_error) on bad input.
    void feed(const char* data, std::size_t n);
    // The next complete reply, or nullopt when more bytes are needed.
    std::optional<reply> next();

private:
    redisReader* r_;
};

// RESP bytes of one command (hiredis's redisFormatCommandArgv).
std::string format_command(const std::vector<std::string>& args);

// Connects (resolve + TCP + AUTH/SELECT) within connect_timeout. Throws on failure.
asio::awaitable<asio::ip::tcp::socket> connect(const redis_options& o, reply_reader& reader);

// Reads from `sock` until one reply is complete.
asio::awaitable<reply> read_reply(asio::ip::tcp::socket& sock, reply_reader& reader);

// What every Redis type sends its commands through: one server
// (node_client) or a Redis Cluster (cluster_client, cluster.hpp), chosen by
// make_client from redis_options::cluster.
// Thread safety: safe from any thread.
class command_client {
public:
    virtual ~command_client() = default;
    // The reply (an error reply is returned, not thrown). Throws
    // std::system_error when Redis is unreachable, the connection drops or
    // the command times out.
    virtual asio::awaitable<reply> exec(std::vector<std::string> args) = 0;
    // Several commands, pipelined (on a cluster: one pipeline per shard),
    // their replies in order. Throws as exec.
    virtual asio::awaitable<std::vector<reply>> exec_many(std::vector<std::vector<std::string>> cmds) = 0;
    // Closes the connection(s); commands in flight fail.
    virtual void close() = 0;
    virtual connection_counters& counters() noexcept = 0;
};

// A Redis Cluster when o.cluster is not empty, else one server.
std::shared_ptr<command_client> make_client(asio::any_io_executor ex, redis_options o);

// A pipelined command connection to one server: commands from any coroutine
// are written in order (several per write when they queue up) and their
// replies matched in order. Connects on first use; after a failure, commands
// fail at once until the next connect attempt is due (backoff), so a Redis
// outage never blocks a caller for long or makes a busy loop. A command
// without a reply within command_timeout closes the connection (every
// command in flight fails).
// Thread safety: exec is safe from any thread.
class node_client final : public command_client, public std::enable_shared_from_this<node_client> {
public:
    // `counters`: shared with other connections (a cluster's shards); null: its own.
    node_client(asio::any_io_executor ex, redis_options o, std::shared_ptr<connection_counters> counters = nullptr);

    asio::awaitable<reply> exec(std::vector<std::string> args) override;
    asio::awaitable<std::vector<reply>> exec_many(std::vector<std::vector<std::string>> cmds) override;
    void close() override;
    connection_counters& counters() noexcept override { return *counters_; }
    const redis_options& options() const noexcept { return opts_; }

private:
    struct pending {
        explicit pending(asio::any_io_executor ex) : signal(ex) {}
        asio::steady_timer signal;  // cancelled when the reply (or an error) is in
        bool done = false;
        std::error_code ec;
        reply result;
    };

    asio::awaitable<std::vector<reply>> exec_on_strand(std::string bytes, std::size_t count);
    asio::awaitable<void> ensure_connected();
    asio::awaitable<void> writer(std::uint64_t generation);
    asio::awaitable<void> reader(std::uint64_t generation);
    void fail_all(std::error_code ec);

    redis_options opts_;
    asio::strand<asio::any_io_executor> strand_;
    std::shared_ptr<connection_counters> counters_;
    std::shared_ptr<asio::ip::tcp::socket> sock_;  // strand only (as is everything below)
    std::shared_ptr<reply_reader> reader_;
    enum class state { down, connecting, up } state_ = state::down;
    std::uint64_t generation_ = 0;  // bumps on every connect: old reader/writer coroutines stop
    asio::steady_timer connected_signal_;
    std::chrono::steady_clock::time_point next_attempt_{};
    unsigned failures_ = 0;
    std::string outbox_;
    bool writing_ = false;
    std::deque<std::shared_ptr<pending>> in_flight_;  // reply order
};

}  // namespace ssehub::redis::detail
