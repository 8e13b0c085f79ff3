// One NATS connection of the C client and what its callbacks need. The C
// client calls back on its own threads with a raw pointer: a link keeps
// itself alive (`pin`) until the connection's closed callback, the last one.
// Thread safety: safe from any thread (the connection pointer under `mu`).
#pragma once

#include "ssehub/nats/options.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

#include <nats/nats.h>

#include <exception>
#include <functional>
#include <memory>
#include <mutex>

namespace ssehub::nats::detail {

// One thread for the C client's blocking calls (connect, flush, close), so
// that none of them runs on the hub's threads. FIFO: a close runs after the
// flushes posted before it.
asio::thread_pool& blocking_pool();

enum class link_event { connected, disconnected, reconnected, closed };

struct link {
    nats_options opts;
    std::shared_ptr<nats_counters> counters;
    bool global_delivery = false;  // subscriber: the C client's shared delivery thread, not one per subscription
    // Called on the C client's threads; set before connect().
    std::function<void(link_event)> on_event;

    std::mutex mu;
    natsConnection* nc = nullptr;  // mu; null until connected, and after close
    bool closing = false;          // mu
    std::shared_ptr<link> pin;     // the C client's reference, released by the closed callback
};

// Blocking (on blocking_pool): creates the connection, which keeps retrying
// in the background when the server is down. Throws std::system_error when
// it cannot be created (malformed URL); does nothing once close() has run.
void connect(const std::shared_ptr<link>& l);
// Blocking: closes and destroys the connection.
void close(const std::shared_ptr<link>& l);

// Runs `fn` on blocking_pool and resumes with its result (or exception).
template <class R>
asio::awaitable<R> run_blocking(std::function<R()> fn) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, R)>(
        [](auto handler, std::function<R()> f) {
            auto work = asio::make_work_guard(asio::get_associated_executor(handler));
            asio::post(blocking_pool(), [h = std::move(handler), f = std::move(f), work = std::move(work)]() mutable {
                std::exception_ptr e;
                R r{};
                try {
                    r = f();
                } catch (...) {
                    e = std::current_exception();
                }
                auto ex = work.get_executor();
                asio::post(ex, [h = std::move(h), e, r = std::move(r), work = std::move(work)]() mutable {
                    std::move(h)(e, std::move(r));
                });
            });
        },
        asio::use_awaitable, std::move(fn));
}

}  // namespace ssehub::nats::detail
