#include "ssehub/ticket_store.hpp"

#include "ssehub/base64.hpp"
#include "ssehub/error.hpp"

#include <cerrno>

#if defined(__linux__)
#include <sys/random.h>
#else
#include <unistd.h>  // getentropy (macOS, BSDs)
#endif

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

std::optional<std::string> memory_ticket_store::take(std::string_view ticket) {
    const time_point t = now();
    const std::lock_guard lock(mu_);
    const auto it = tickets_.find(ticket);
    if (it == tickets_.end()) return std::nullopt;
    std::optional<std::string> value;
    if (it->second.expiry->first > t) value = std::move(it->second.value);
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

asio::awaitable<std::optional<std::string>> memory_ticket_store::async_take(std::string_view ticket) {
    co_return take(ticket);
}

std::string issue_ticket_value() {
    unsigned char bytes[32];
    std::size_t got = 0;
    while (got < sizeof bytes) {
#if defined(__linux__)
        const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::system_category(), "getrandom");
        }
        got += static_cast<std::size_t>(n);
#else
        if (::getentropy(bytes, sizeof bytes) != 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::system_category(), "getentropy");
        }
        got = sizeof bytes;
#endif
    }
    return base64url::encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

}  // namespace ssehub
