// The `ticket_store` concept: where one-time tickets for EventSource live
// (EventSource cannot send an Authorization header), and how a ticket is
// issued on any such store.
//
// Flow: an authenticated request to the application (fetch with its session
// or bearer token) gets a ticket: `co_await issue_ticket(store, value, ttl)`
// stores `value` (what the stream needs to know about the user, e.g. encoded
// metadata and topics) under a fresh random token and returns the token. The
// browser opens `new EventSource("/events?ticket=" + t)`; ticket_auth reads
// the ticket and decodes `value`, and the hub takes it (atomic get-and-delete)
// only once every other check passed, so a request refused for its topics
// leaves the ticket usable, and of two requests racing with one ticket
// exactly one is admitted.
// A ticket admits one stream: EventSource's automatic reconnect would present
// the same, spent ticket and be refused (401), so a client must fetch a new
// ticket and open a new EventSource when the stream errors (and keep the last
// event id to pass as `?lastEventId=` for replay). Keep TTLs short (seconds).
//
// Implementations: memory_ticket_store (memory_ticket_store.hpp), the Redis
// store (SET PX / GET / GETDEL, <ssehub/redis/ticket_store.hpp>), or any type
// that models the concept; any_ticket_store (any_ticket_store.hpp) erases it.
#pragma once

#include <asio/awaitable.hpp>

#include <chrono>
#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

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
concept ticket_store_can_get = requires(T& t, std::string_view ticket) {
    { t.async_get(ticket) } -> std::same_as<asio::awaitable<std::optional<std::string>>>;
};

template <class T>
concept ticket_store_can_take = requires(T& t, std::string_view ticket) {
    { t.async_take(ticket) } -> std::same_as<asio::awaitable<std::optional<std::string>>>;
};

}  // namespace detail

// T stores tickets:
//   co_await t.async_put(ticket, value, ttl) -> std::error_code (or void: failures throw)
//   co_await t.async_get(ticket)             -> std::optional<std::string>: the value, left
//        in place; nullopt when unknown, taken or expired.
//   co_await t.async_take(ticket)            -> std::optional<std::string>: the value,
//        removed in the same atomic step; nullopt when unknown, taken or expired.
//        Of concurrent takes of one ticket (from any node sharing the store),
//        at most one gets the value.
template <class T>
concept ticket_store =
    detail::ticket_store_can_put<T> && detail::ticket_store_can_get<T> && detail::ticket_store_can_take<T>;

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
