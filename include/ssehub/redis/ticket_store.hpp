// One-time tickets in Redis: SET key value PX ttl, GET to read one, and
// GETDEL (atomic get and delete) to take one, so a ticket issued on one node
// admits one stream on any node and never again anywhere. Needs Redis 6.2+
// (GETDEL).
// Thread safety: safe from any thread.
#pragma once

#include "ssehub/auth/ticket_store.hpp"
#include "ssehub/redis/options.hpp"

#include <asio/any_io_executor.hpp>

#include <memory>
#include <string>

namespace ssehub::redis {

namespace detail {
class command_client;
}

class redis_ticket_store {
public:
    redis_ticket_store(asio::any_io_executor ex, redis_options o, std::string key_prefix = "ssehub:ticket:");
    ~redis_ticket_store();
    redis_ticket_store(redis_ticket_store&&) noexcept = default;
    redis_ticket_store& operator=(redis_ticket_store&&) noexcept = default;

    // Errors: std::errc::invalid_argument (ttl <= 0), or the Redis failure.
    asio::awaitable<std::error_code> async_put(std::string ticket, std::string value, std::chrono::milliseconds ttl);
    // Both: nullopt when unknown, taken, expired, or Redis is unreachable.
    // The value, left in place.
    asio::awaitable<std::optional<std::string>> async_get(std::string_view ticket);
    // The value, deleted in the same step.
    asio::awaitable<std::optional<std::string>> async_take(std::string_view ticket);

    const connection_counters& counters() const noexcept;

private:
    std::shared_ptr<detail::command_client> client_;
    std::string prefix_;
};

static_assert(ticket_store<redis_ticket_store>);

}  // namespace ssehub::redis
