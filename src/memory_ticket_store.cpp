#include "ssehub/auth/memory_ticket_store.hpp"

#include "ssehub/error.hpp"

namespace ssehub {

memory_ticket_store::memory_ticket_store(memory_ticket_store_config config) : cfg_(std::move(config)) {}

memory_ticket_store::time_point memory_ticket_store::now() const {
    return cfg_.clock ? cfg_.clock() : std::chrono::steady_clock::now();
}

void memory_ticket_store::purge_expired(time_point t) {
    while (!expiries_.empty() && expiries_.begin()->first <= t) {
        const auto e = expiries_.begin();
        tickets_.erase(tickets_.find(*e->second));  // destroys the key e points to; e is not used after
        expiries_.erase(e);
    }
}

std::error_code memory_ticket_store::put(std::string ticket, std::string value, std::chrono::milliseconds ttl) {
    if (ttl.count() <= 0) return std::make_error_code(std::errc::invalid_argument);
    const time_point t = now();
    // now + ttl without overflowing the clock's representation.
    const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(time_point::max() - t);
    const time_point expires = ttl >= room ? time_point::max() : t + ttl;

    const std::lock_guard lock(mu_);
    purge_expired(t);
    auto it = tickets_.find(ticket);
    if (it == tickets_.end()) {
        if (tickets_.size() >= cfg_.max_tickets) return make_error_code(error::ticket_store_full);
        it = tickets_.try_emplace(std::move(ticket)).first;
    } else {
        expiries_.erase(it->second.expiry);
    }
    it->second.value = std::move(value);
    it->second.expiry = expiries_.emplace(expires, &it->first);
    return {};
}

memory_ticket_store::ticket_map::iterator memory_ticket_store::find_live(std::string_view ticket, time_point t) {
    const auto it = tickets_.find(ticket);
    if (it == tickets_.end() || it->second.expiry->first > t) return it;
    expiries_.erase(it->second.expiry);
    tickets_.erase(it);
    return tickets_.end();
}

std::optional<std::string> memory_ticket_store::get(std::string_view ticket) {
    const time_point t = now();
    const std::lock_guard lock(mu_);
    const auto it = find_live(ticket, t);
    if (it == tickets_.end()) return std::nullopt;
    return it->second.value;
}

std::optional<std::string> memory_ticket_store::take(std::string_view ticket) {
    const time_point t = now();
    const std::lock_guard lock(mu_);
    const auto it = find_live(ticket, t);
    if (it == tickets_.end()) return std::nullopt;
    std::optional<std::string> value = std::move(it->second.value);
    expiries_.erase(it->second.expiry);
    tickets_.erase(it);
    return value;
}

std::size_t memory_ticket_store::size() const {
    const std::lock_guard lock(mu_);
    return tickets_.size();
}

asio::awaitable<std::error_code> memory_ticket_store::async_put(std::string ticket, std::string value,
                                                                std::chrono::milliseconds ttl) {
    co_return put(std::move(ticket), std::move(value), ttl);
}

asio::awaitable<std::optional<std::string>> memory_ticket_store::async_get(std::string_view ticket) {
    co_return get(ticket);
}

asio::awaitable<std::optional<std::string>> memory_ticket_store::async_take(std::string_view ticket) {
    co_return take(ticket);
}

}  // namespace ssehub
