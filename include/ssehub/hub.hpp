// The hub: routes published events to the connections whose topics and
// metadata match, and serves each connection's event stream.
//
// Thread safety: every member function is safe to call from any thread.
// Hub state lives on one strand (get_executor()); publishers hand events to a
// bounded intake and never block.
#pragma once

#include "ssehub/config.hpp"
#include "ssehub/connection.hpp"
#include "ssehub/detail/any_stream.hpp"
#include "ssehub/error.hpp"
#include "ssehub/event.hpp"
#include "ssehub/http.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/associated_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ssehub {

struct publish_result {
    std::string id;           // the event's id (assigned by the hub when empty)
    std::size_t matched = 0;  // connections the event was routed to
};

struct connection_stats {
    std::string id;
    std::uint64_t sent = 0;     // frames written (events, heartbeats)
    std::uint64_t dropped = 0;  // frames dropped because the queue was full
};

struct hub_stats {
    std::size_t active_connections = 0;
    std::uint64_t connections_total = 0;  // ever registered
    std::uint64_t events_published = 0;   // routed by the hub
    std::uint64_t events_rejected = 0;    // refused by publish() (intake full)
    std::uint64_t events_expired = 0;     // TTL passed before delivery
    std::uint64_t events_dropped = 0;     // per-connection drops, summed
    std::vector<connection_stats> connections;
};

namespace detail {
class hub_impl;
using publish_completion = std::function<void(std::error_code, publish_result)>;
}  // namespace detail

class hub {
public:
    explicit hub(asio::any_io_executor ex, hub_config cfg = {});
    // Requests stop; connections still running end soon after. Prefer
    // `co_await async_shutdown(...)` first for a graceful end.
    ~hub();
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    const hub_config& config() const noexcept;
    // The hub strand.
    asio::any_io_executor get_executor() const noexcept;

    // Validates and hands the event to the hub. Never blocks. Errors:
    // invalid_topic, invalid_event_field, no_target, intake_full, hub_stopped.
    std::error_code publish(event ev);

    // Completes after routing, with the event's id and matched connections.
    asio::awaitable<publish_result> async_publish(event ev);

    template <class CompletionToken>
    auto async_publish(event ev, CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code, publish_result)>(
            [this](auto handler, event e) {
                auto ex = asio::get_associated_executor(handler, get_executor());
                auto work = asio::make_work_guard(ex);
                auto shared = std::make_shared<decltype(handler)>(std::move(handler));
                enqueue(std::move(e), [shared, work = std::move(work)](std::error_code ec, publish_result r) mutable {
                    auto ex2 = work.get_executor();
                    asio::post(ex2, [shared, ec, r = std::move(r)]() mutable { (*shared)(ec, std::move(r)); });
                    work.reset();
                });
            },
            token, std::move(ev));
    }

    // Serves one client: reads and validates the request head, runs on_connect,
    // registers, then streams events until the client leaves, the lifetime
    // ends, a write times out, or the hub shuts down.
    template <async_stream Stream>
    asio::awaitable<void> async_serve(Stream stream) {
        co_await serve(std::make_unique<detail::stream_adapter<Stream>>(std::move(stream)), std::nullopt);
    }

    // Same, for a request head that another HTTP framework already parsed.
    template <async_stream Stream>
    asio::awaitable<void> async_serve(Stream stream, http::request request) {
        co_await serve(std::make_unique<detail::stream_adapter<Stream>>(std::move(stream)), std::move(request));
    }

    // Stops accepting, ends every stream after what is queued is written, and
    // resumes when every connection has finished (streams still writing after
    // `grace` are closed).
    asio::awaitable<void> async_shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

    hub_stats stats() const;

private:
    asio::awaitable<void> serve(std::unique_ptr<detail::any_stream> stream, std::optional<http::request> request);
    void enqueue(event ev, detail::publish_completion done);

    std::shared_ptr<detail::hub_impl> impl_;
};

}  // namespace ssehub
