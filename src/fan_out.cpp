// The fan-out bridge: one loop per subscriber on the bridge's strand, each
// running the subscriber, then waiting a backoff, until stopped.
#include "ssehub/fan_out/bridge.hpp"

#include "ssehub/error.hpp"
#include "ssehub/hub.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <exception>
#include <random>

namespace ssehub {
namespace detail {

struct fan_out_state : std::enable_shared_from_this<fan_out_state> {
    fan_out_state(hub& h, fan_out_config c)
        : target(&h), cfg(std::move(c)), strand(asio::make_strand(h.get_executor())), rng(std::random_device{}()),
          log(h.config().log) {}

    // Publishes one message (any thread). The mutex makes stop() a barrier:
    // once it returns, no publish is in progress or will start.
    void deliver(pubsub_message m) {
        counters.received.fetch_add(1, std::memory_order_relaxed);
        event ev;
        ev.topics.push_back(cfg.topic.empty() ? m.channel : cfg.topic);
        ev.type = cfg.event_type;
        ev.data = m.payload;
        ev.lane = cfg.lane;
        ev.coalesce_key = cfg.coalesce_key;
        ev.ttl = cfg.ttl;
        if (cfg.transform) {
            std::optional<event> t;
            try {
                t = cfg.transform(m, std::move(ev));
            } catch (const std::exception&) {
                counters.errors.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            if (!t) {
                counters.dropped.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            ev = std::move(*t);
        }
        std::lock_guard lock(mu);
        if (stopped) return;
        const std::error_code ec = target->publish(std::move(ev));
        if (!ec) {
            counters.published.fetch_add(1, std::memory_order_relaxed);
        } else if (ec == error::expired) {
            counters.expired.fetch_add(1, std::memory_order_relaxed);
        } else {
            counters.errors.fetch_add(1, std::memory_order_relaxed);
        }
    }

    void stop() {
        {
            std::lock_guard lock(mu);
            if (stopped) return;
            stopped = true;
        }
        asio::post(strand, [self = shared_from_this()] {
            for (auto& s : self->signals) s.emit(asio::cancellation_type::terminal);
        });
    }

    bool is_stopped() {
        std::lock_guard lock(mu);
        return stopped;
    }

    std::chrono::milliseconds backoff(unsigned attempt) {
        const double base = static_cast<double>(cfg.backoff_initial.count()) *
                            std::pow(std::max(1.0, cfg.backoff_factor), static_cast<double>(std::min(attempt, 64u)));
        const double capped = std::min(base, static_cast<double>(cfg.backoff_max.count()));
        std::uniform_real_distribution<double> j(-cfg.backoff_jitter, cfg.backoff_jitter);
        const double d = capped * (1.0 + (cfg.backoff_jitter > 0 ? j(rng) : 0.0));
        return std::chrono::milliseconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(d)));
    }

    hub* target;
    fan_out_config cfg;
    asio::strand<asio::any_io_executor> strand;
    std::mt19937_64 rng;  // strand only
    logger log;  // the hub's, copied: the hub may be gone when a loop ends
    fan_out_counters counters;
    std::deque<asio::cancellation_signal> signals;  // one per loop (never moved); strand only
    std::atomic<std::size_t> loops_running{0};
    std::mutex mu;
    bool stopped = false;  // mu
};

namespace {

class sink final : public pubsub_sink {
public:
    explicit sink(fan_out_state& s) : s_(s) {}
    void message(pubsub_message m) override { s_.deliver(std::move(m)); }
    void subscribed() override {
        if (!subscribed_.exchange(true)) s_.counters.connected.fetch_add(1, std::memory_order_relaxed);
    }
    // Ends a run: whether it subscribed (and no longer counts as connected).
    bool finish() {
        const bool was = subscribed_.exchange(false);
        if (was) s_.counters.connected.fetch_sub(1, std::memory_order_relaxed);
        return was;
    }

private:
    fan_out_state& s_;
    std::atomic<bool> subscribed_{false};
};

asio::awaitable<void> loop(std::shared_ptr<fan_out_state> st, subscriber_run run) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    unsigned attempt = 0;
    bool first = true;
    while (!st->is_stopped()) {
        if (!first) st->counters.reconnects.fetch_add(1, std::memory_order_relaxed);
        first = false;
        sink k(*st);
        bool failed = false;
        try {
            co_await run(k);
        } catch (const std::exception&) {
            failed = true;
        }
        const bool subscribed = k.finish();
        if (st->is_stopped()) break;
        if (failed) st->counters.errors.fetch_add(1, std::memory_order_relaxed);
        // A subscriber that returned at once waits like one that failed: never a busy loop.
        if (subscribed) attempt = 0;
        timer.expires_after(st->backoff(attempt));
        if (attempt < 64) ++attempt;
        std::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

}  // namespace

// The hub's background work (hub::spawn): the loop, bound to the bridge's own
// cancellation signal for stop(); async_shutdown waits for it.
asio::awaitable<void> owned_loop(std::shared_ptr<fan_out_state> st, std::size_t i, subscriber_run run) {
    try {
        co_await asio::co_spawn(st->strand, loop(st, std::move(run)),
                                asio::bind_cancellation_slot(st->signals[i].slot(), asio::use_awaitable));
    } catch (const std::system_error& x) {
        if (x.code() != asio::error::operation_aborted)
            st->log.log(logger::level::error, std::string("fan-out loop ended: ") + x.what());
    } catch (const std::exception& x) {
        st->log.log(logger::level::error, std::string("fan-out loop ended: ") + x.what());
    } catch (...) {
        st->log.log(logger::level::error, "fan-out loop ended: unknown exception");
    }
    st->loops_running.fetch_sub(1);
}

fan_out_handle start_fan_out(hub& h, std::vector<subscriber_run> runs, fan_out_config cfg) {
    auto st = std::make_shared<fan_out_state>(h, std::move(cfg));
    for (std::size_t i = 0; i < runs.size(); ++i) st->signals.emplace_back();
    st->loops_running.store(runs.size());
    for (std::size_t i = 0; i < runs.size(); ++i)
        if (!h.spawn(st->strand, owned_loop(st, i, std::move(runs[i])))) st->loops_running.fetch_sub(1);  // shutting down
    h.on_shutdown([weak = std::weak_ptr<fan_out_state>(st)] {
        if (auto s = weak.lock()) s->stop();
    });
    return fan_out_handle(std::move(st));
}

}  // namespace detail

const fan_out_counters& fan_out_handle::counters() const noexcept { return state_->counters; }

void fan_out_handle::stop() {
    if (state_) state_->stop();
}

bool fan_out_handle::finished() const noexcept { return !state_ || state_->loops_running.load() == 0; }

}  // namespace ssehub
