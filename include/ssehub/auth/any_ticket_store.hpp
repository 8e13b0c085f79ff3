// any_ticket_store: any `ticket_store` behind one copyable handle, so that
// ticket_auth and the hub compile once whatever store a user plugs in.
// Thread safety: the handle itself: Distinct objects: safe. Shared objects:
// unsafe. Calls go to the underlying store, whose own rules apply.
#pragma once

#include "ssehub/auth/ticket_store.hpp"

#include <asio/awaitable.hpp>

#include <chrono>
#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace ssehub {

// A copyable, type-erased handle to a ticket store shared by all copies.
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

    // Precondition (all three): *this is not empty. A store whose async_put
    // returns void reports success as {}. `ticket` must stay valid until the
    // operation completes.
    asio::awaitable<std::error_code> async_put(std::string ticket, std::string value,
                                               std::chrono::milliseconds ttl) const {
        return put_op(impl_, std::move(ticket), std::move(value), ttl);
    }
    asio::awaitable<std::optional<std::string>> async_get(std::string_view ticket) const {
        return get_op(impl_, ticket);
    }
    asio::awaitable<std::optional<std::string>> async_take(std::string_view ticket) const {
        return take_op(impl_, ticket);
    }

private:
    struct base {
        virtual ~base() = default;
        virtual asio::awaitable<std::error_code> async_put(std::string ticket, std::string value,
                                                           std::chrono::milliseconds ttl) = 0;
        virtual asio::awaitable<std::optional<std::string>> async_get(std::string_view ticket) = 0;
        virtual asio::awaitable<std::optional<std::string>> async_take(std::string_view ticket) = 0;
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
        asio::awaitable<std::optional<std::string>> async_get(std::string_view ticket) override {
            return impl->async_get(ticket);
        }
        asio::awaitable<std::optional<std::string>> async_take(std::string_view ticket) override {
            return impl->async_take(ticket);
        }
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
    static asio::awaitable<std::optional<std::string>> get_op(std::shared_ptr<base> p, std::string_view ticket) {
        co_return co_await p->async_get(ticket);
    }
    static asio::awaitable<std::optional<std::string>> take_op(std::shared_ptr<base> p, std::string_view ticket) {
        co_return co_await p->async_take(ticket);
    }

    std::shared_ptr<base> impl_;
};

static_assert(ticket_store<any_ticket_store>);

}  // namespace ssehub
