// memory_ticket_store: the built-in `ticket_store`, for one process.
// (Several nodes share tickets through the Redis store instead.)
#pragma once

#include "ssehub/auth/ticket_store.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

namespace ssehub {

struct memory_ticket_store_config {
    std::size_t max_tickets = 100000;  // live tickets held at most; put fails beyond (after purging expired ones)
    // Clock for expiry; empty: steady_clock::now (tests inject).
    std::function<std::chrono::steady_clock::time_point()> clock;
};

// A hash map plus an expiry-ordered index. Expired tickets are removed lazily
// (on every put, and on get or take of that ticket): no thread or timer of
// its own. put/get/take are O(log n).
// Thread safety: internally synchronised (one mutex): safe from any thread.
// Neither copyable nor movable; share it with std::shared_ptr.
class memory_ticket_store {
public:
    explicit memory_ticket_store(memory_ticket_store_config config = {});
    memory_ticket_store(const memory_ticket_store&) = delete;
    memory_ticket_store& operator=(const memory_ticket_store&) = delete;

    // Stores `value` under `ticket` (replacing an entry with the same ticket)
    // until now + ttl. Errors: ticket_store_full (max_tickets live tickets),
    // std::errc::invalid_argument (ttl <= 0).
    std::error_code put(std::string ticket, std::string value, std::chrono::milliseconds ttl);

    // The ticket's value, left in place; nullopt if unknown, already taken,
    // or expired (an expired ticket is removed).
    std::optional<std::string> get(std::string_view ticket);

    // Removes the ticket and returns its value; nullopt if unknown, already
    // taken, or expired (an expired ticket is removed too).
    std::optional<std::string> take(std::string_view ticket);

    // Tickets held, including expired ones not yet purged.
    std::size_t size() const;

    asio::awaitable<std::error_code> async_put(std::string ticket, std::string value, std::chrono::milliseconds ttl);
    asio::awaitable<std::optional<std::string>> async_get(std::string_view ticket);
    asio::awaitable<std::optional<std::string>> async_take(std::string_view ticket);

private:
    using time_point = std::chrono::steady_clock::time_point;
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    using expiry_index = std::multimap<time_point, const std::string*>;  // -> key in tickets_ (node-stable)
    struct entry {
        std::string value;
        expiry_index::iterator expiry;
    };
    using ticket_map = std::unordered_map<std::string, entry, string_hash, std::equal_to<>>;

    time_point now() const;
    void purge_expired(time_point now);  // mu_ held
    // The live entry for `ticket`, or end() (an expired one is erased). mu_ held.
    ticket_map::iterator find_live(std::string_view ticket, time_point now);

    const memory_ticket_store_config cfg_;
    mutable std::mutex mu_;
    ticket_map tickets_;
    expiry_index expiries_;
};

static_assert(ticket_store<memory_ticket_store>);

}  // namespace ssehub
