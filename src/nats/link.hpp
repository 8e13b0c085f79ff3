// One NATS connection of the C client and what its callbacks need. The C
// client calls back on its own threads, also after a close; its callbacks
// get the link's number, not a pointer, and find the link (if it still
// lives) in a registry, so a late callback never touches freed memory.
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
#include <shared_mutex>

namespace ssehub::nats::detail {

// One thread for the C client's blocking calls (connect, flush, close), so
// that none of them runs on the hub's threads. FIFO: a close runs after the
// flushes posted before it.
asio::thread_pool& blocking_pool();
// Two threads for JetStream replays (they wait on the network), so that the
// calls on blocking_pool() never queue behind them. Joined at exit too.
asio::thread_pool& replay_pool();

enum class link_event { connected, disconnected, reconnected, closed };

struct link {
    nats_options opts;
    std::shared_ptr<nats_counters> counters;
    bool global_delivery = false;  // subscriber: the C client's shared delivery thread, not one per subscription
    // Called on the C client's threads; set before connect().
    std::function<void(link_event)> on_event;
    // JetStream publisher: each asynchronous publish's ack (or failure), on a
    // C client thread; the message is destroyed after it returns. Set before connect().
    std::function<void(natsMsg*, jsPubAck*, jsPubAckErr*)> on_ack;

    std::mutex mu;
    natsConnection* nc = nullptr;  // mu; null until connected, and after close
    jsCtx* js = nullptr;           // mu; with opts.jetstream.enabled, beside nc
    // Held shared by blocking JetStream calls (stream lookups, replays) while
    // they use nc/js without `mu`; close() takes it exclusively first.
    std::shared_mutex use_mu;
    bool closing = false;          // mu
    std::uint64_t key = 0;         // in the registry once connect() ran

    link() = default;
    link(const link&) = delete;
    link& operator=(const link&) = delete;
    ~link();
};

// Blocking (on blocking_pool): creates the connection, which keeps retrying
// in the background when the server is down. Throws std::system_error when
// it cannot be created (malformed URL); does nothing once close() has run.
void connect(const std::shared_ptr<link>& l);
// Blocking: closes and destroys the connection.
void close(const std::shared_ptr<link>& l);
// connect() on blocking_pool, its failure (a malformed URL) logged (and
// counted in connect_failures): what the link's users then do fails.
void connect_in_background(const std::shared_ptr<link>& l);
// Marks the link closing at once (no new use starts), then close() on
// blocking_pool, then `after` there (may be empty).
void close_in_background(const std::shared_ptr<link>& l, std::function<void()> after = {});
// Blocking (JetStream): looks the stream up and creates it when missing
// (opts.jetstream: its name, subjects, limits, the republish to the live
// subjects). Throws std::system_error when the server refuses (JetStream
// off, a stream with other subjects) or does not answer.
void ensure_stream(const std::shared_ptr<link>& l);

// Posts `f` from a thread of ours (a pool, a C client thread) to `work`'s
// executor, and lets it run only once this thread holds no copy of that
// executor any more: the io_context may be destroyed as soon as the
// handler's coroutine has finished, and an executor (a strand) released
// after that would touch freed memory. The handler waits for a mutex that
// this thread releases when asio::post has returned (microseconds).
template <class Executor, class F>
void post_back(asio::executor_work_guard<Executor> work, F f) {
    auto gate = std::make_shared<std::mutex>();
    std::unique_lock hold(*gate);
    {
        auto ex = work.get_executor();
        asio::post(ex, [gate, f = std::move(f), work = std::move(work)]() mutable {
            { std::lock_guard posted(*gate); }
            f();
        });
    }
    hold.unlock();
}

// Runs fn(l) on blocking_pool and resumes after it (rethrowing what it
// threw). Call sites keep the awaitable in a named variable: no temporary
// with a destructor in the co_await expression (GCC 12 coroutines).
inline asio::awaitable<void> on_pool(std::shared_ptr<link> l, void (*fn)(const std::shared_ptr<link>&)) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(
        [](auto handler, std::shared_ptr<link> lk, void (*f)(const std::shared_ptr<link>&)) {
            auto work = asio::make_work_guard(asio::get_associated_executor(handler));
            asio::post(blocking_pool(), [h = std::move(handler), lk = std::move(lk), f, work = std::move(work)]() mutable {
                std::exception_ptr e;
                try {
                    f(lk);
                } catch (...) {
                    e = std::current_exception();
                }
                lk.reset();
                post_back(std::move(work), [h = std::move(h), e]() mutable { std::move(h)(e); });
            });
        },
        asio::use_awaitable, std::move(l), fn);
}

}  // namespace ssehub::nats::detail
