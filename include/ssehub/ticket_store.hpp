// One-time tickets for EventSource, which cannot send an Authorization header.
//
// Flow: an authenticated request to the application (fetch with its session
// or bearer token) gets a ticket: `co_await issue_ticket(store, value, ttl)`
// stores `value` (what the stream needs to know about the user, e.g. encoded
// metadata and topics) under a fresh random token and returns the token. The
// browser opens `new EventSource("/events?ticket=" + t)`; the hub takes the
// ticket once (atomic get-and-delete) and decodes `value`.
// A ticket is single-use: EventSource's automatic reconnect would present the
// same, spent ticket and be refused (401), so a client must fetch a new ticket
// and open a new EventSource when the stream errors (and keep the last event
// id to pass as `?lastEventId=` for replay). Keep TTLs short (seconds).
//
// The `ticket_store` concept lets a networked store (Redis: SET PX / GETDEL)
// replace the built-in memory_ticket_store.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>

#include <asio/awaitable.hpp>

namespace ssehub {

namespace detail {

template <class R>
concept put_result = std::same_as<R, asio::awaitable<std::error_code>> || std::same_as<R, asio::awaitable<void>>;

// Split so that a diagnostic names the operation a type lacks.
template <class T>
concept ticket_store_can_put = requires(T& t, std::string ticket, std::string value, std::chrono::milliseconds ttl) {
    { t.async_put(std::move(ticket), std::move(value), ttl) } -> put_result;
};

template <class T>
concept ticket_store_can_take = requires(T& t, std::string_view ticket) {
    { t.async_take(ticket) } -> std::same_as<asio::awaitable<std::optional<std::string>>>;
};

}  // namespace detail

// T stores tickets:
//   co_await t.async_put(ticket, value, ttl) -> std::error_code (or void: failures throw)
//   co_await t.async_take(ticket)            -> std::optional<std::string>: the value,
//        removed in the same atomic step; nullopt when unknown, taken or expired.
template <class T>
concept ticket_store = detail::ticket_store_can_put<T> && detail::ticket_store_can_take<T>;

// A copyable, type-erased handle to a ticket store shared by all copies.
// Thread safety: the handle itself: Distinct objects: safe. Shared objects:
// unsafe. Calls go to the underlying store, whose own rules apply.
class any_ticket_store {
public:
    any_ticket_store() noexcept = default;  // empty: no ticket auth

    // Takes ownership of a (movable) store value.
    template <class T>
        requires(!std::same_as<std::remove_cvref_t<T>, any_ticket_store> && ticket_store<std::remove_cvref_t<T>>)
    any_ticket_store(T&& s)
        : impl_(std::make_shared<model<std::remove_cvref_t<T>>>(
              std::make_shared<std::remove_cvref_t<T>>(std::forward<T>(s)))) {}

    // Builds the store in place (for stores that cannot move, e.g. memory_ticket_store).
    template <ticket_store T, class... Args>
    explicit any_ticket_store(std::in_place_type_t<T>, Args&&... args)
        : impl_(std::make_shared<model<T>>(std::make_shared<T>(std::forward<Args>(args)...))) {}

    // Shares a store the caller keeps a handle to.
    template <ticket_store T>
    any_ticket_store(std::shared_ptr<T> s) : impl_(s ? std::make_shared<model<T>>(std::move(s)) : nullptr) {}

    explicit operator bool() const noexcept { return impl_ != nullptr; }

    // The underlying store if it is a T, else nullptr.
    template <class T>
    T* target() const noexcept {
        return impl_ && impl_->type() == typeid(T) ? static_cast<T*>(impl_->object()) : nullptr;
    }

    // Precondition: *this is not empty. A store whose async_put returns void
    // reports success as {}.
    asio::awaitable<std::error_code> async_put(std::string ticket, std::string value,
                                               std::chrono::milliseconds ttl) const {
        return put_op(impl_, std::move(ticket), std::move(value), ttl);
    }

    // `ticket` must stay valid until the operation completes.
    asio::awaitable<std::optional<std::string>> async_take(std::string_view ticket) const {
        return take_op(impl_, ticket);
    }

private:
    struct base {
        virtual ~base() = default;
        virtual asio::awaitable<std::error_code> async_put(std::string ticket, std::string value,
                                                           std::chrono::milliseconds ttl) = 0;
        virtual asio::awaitable<std::optional<std::string>> async_take(std::string_view ticket) = 0;
        virtual const std::type_info& type() const noexcept = 0;
        virtual void* object() const noexcept = 0;
    };

    template <class T>
    struct model final : base {
        explicit model(std::shared_ptr<T> p) noexcept : impl(std::move(p)) {}
        asio::awaitable<std::error_code> async_put(std::string ticket, std::string value,
                                                   std::chrono::milliseconds ttl) override {
            using R = decltype(impl->async_put(std::move(ticket), std::move(value), ttl));
            if constexpr (std::same_as<R, asio::awaitable<void>>) {
                return adapt_void(impl->async_put(std::move(ticket), std::move(value), ttl));
            } else {
                return impl->async_put(std::move(ticket), std::move(value), ttl);
            }
        }
        asio::awaitable<std::optional<std::string>> async_take(std::string_view ticket) override {
            return impl->async_take(ticket);
        }
        const std::type_info& type() const noexcept override { return typeid(T); }
        void* object() const noexcept override { return impl.get(); }
        std::shared_ptr<T> impl;
    };

    static asio::awaitable<std::error_code> adapt_void(asio::awaitable<void> op) {
        co_await std::move(op);
        co_return std::error_code{};
    }
    // Coroutines taking the shared_ptr by value: the store outlives the call.
    static asio::awaitable<std::error_code> put_op(std::shared_ptr<base> p, std::string ticket, std::string value,
                                                   std::chrono::milliseconds ttl) {
        co_return co_await p->async_put(std::move(ticket), std::move(value), ttl);
    }
    static asio::awaitable<std::optional<std::string>> take_op(std::shared_ptr<base> p, std::string_view ticket) {
        co_return co_await p->async_take(ticket);
    }

    std::shared_ptr<base> impl_;
};

struct memory_ticket_store_config {
    std::size_t max_tickets = 100000;  // live tickets held at most; put fails beyond (after purging expired ones)
    // Clock for expiry; empty: steady_clock::now (tests inject).
    std::function<std::chrono::steady_clock::time_point()> clock;
};

// The built-in ticket store: a hash map plus an expiry-ordered index. Expired
// tickets are removed lazily (on every put, and on take of that ticket): no
// thread or timer of its own. put/take are O(log n).
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

    // Removes the ticket and returns its value; nullopt if unknown, already
    // taken, or expired (an expired ticket is removed too).
    std::optional<std::string> take(std::string_view ticket);

    // Tickets held, including expired ones not yet purged.
    std::size_t size() const;

    asio::awaitable<std::error_code> async_put(std::string ticket, std::string value, std::chrono::milliseconds ttl);
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

    time_point now() const;
    void purge_expired(time_point now);  // mu_ held

    const memory_ticket_store_config cfg_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, entry, string_hash, std::equal_to<>> tickets_;
    expiry_index expiries_;
};

static_assert(ticket_store<memory_ticket_store>);

// A fresh ticket: 32 bytes (256 bits) from the OS CSPRNG (getrandom(2)),
// base64url-encoded (43 characters). Throws std::system_error if the OS
// cannot provide randomness.
std::string issue_ticket_value();

// Stores `value` under a fresh ticket for `ttl` and returns the ticket.
// Throws std::system_error with the store's error (e.g. ticket_store_full).
// `store` must outlive the operation.
template <ticket_store Store>
asio::awaitable<std::string> issue_ticket(Store& store, std::string value, std::chrono::milliseconds ttl) {
    std::string ticket = issue_ticket_value();
    if constexpr (std::same_as<decltype(store.async_put(std::string{}, std::string{}, ttl)), asio::awaitable<void>>) {
        co_await store.async_put(ticket, std::move(value), ttl);
    } else {
        const std::error_code ec = co_await store.async_put(ticket, std::move(value), ttl);
        if (ec) throw std::system_error(ec, "issue_ticket");
    }
    co_return ticket;
}

}  // namespace ssehub
