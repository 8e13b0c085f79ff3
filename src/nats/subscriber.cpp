// nats_subscriber: one NATS connection per run; subscriptions follow the
// hub's patterns (hub::watch_patterns) on the run's executor.
#include "ssehub/nats/subscriber.hpp"

#include "link.hpp"

#include "ssehub/hub.hpp"
#include "ssehub/topic.hpp"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include <deque>
#include <unordered_map>
#include <unordered_set>

namespace ssehub::nats {

namespace {

// A run's state. `ex` (the run's executor, a strand) owns everything not
// atomic; the C client's threads only read `open` and post.
struct run_state : std::enable_shared_from_this<run_state> {
    run_state(asio::any_io_executor e, const nats_options& o, std::shared_ptr<nats_counters> c)
        : ex(std::move(e)), wake(ex), counters(std::move(c)), max_pending(o.max_pending), window(o.dedupe_window) {
        l = std::make_shared<detail::link>();
        l->opts = o;
        l->counters = counters;
        l->global_delivery = true;
    }

    asio::any_io_executor ex;
    asio::steady_timer wake;  // the run waits on it: cancelled when the connection is closed
    std::shared_ptr<nats_counters> counters;
    std::shared_ptr<detail::link> l;
    std::size_t max_pending;
    std::size_t window;
    std::atomic<bool> open{true};        // false once the run ends: callbacks drop
    std::atomic<std::size_t> pending{0};  // messages posted to ex, not yet delivered
    std::atomic<std::size_t> live_subs{0};  // subscriptions whose handler may still run

    // ex only
    pubsub_sink* sink = nullptr;
    bool closed = false;
    std::unordered_map<std::string, natsSubscription*> subs;  // NATS subject → subscription
    std::unordered_map<std::string, std::size_t> wanted;      // subject → reasons (patterns, fixed)
    std::unordered_set<std::string> seen;
    std::deque<std::string> seen_order;
    bool flushing = false;

    void deliver(pubsub_message m) {
        if (!sink) return;
        const auto nl = m.payload.find('\n');
        if (nl != std::string::npos && window > 0) {
            std::string id = m.payload.substr(0, nl);
            if (!seen.insert(id).second) {
                counters->duplicates.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            seen_order.push_back(std::move(id));
            if (seen_order.size() > window) {
                seen.erase(seen_order.front());
                seen_order.pop_front();
            }
        }
        const std::string& prefix = l->opts.prefix;
        if (!prefix.empty() && m.channel.size() > prefix.size() && m.channel.starts_with(prefix) &&
            m.channel[prefix.size()] == '.')
            m.channel.erase(0, prefix.size() + 1);  // the topic
        sink->message(std::move(m));
    }

    static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
        auto* st = static_cast<run_state*>(closure);
        st->counters->messages.fetch_add(1, std::memory_order_relaxed);
        if (!st->open.load() || st->pending.fetch_add(1) >= st->max_pending) {
            if (st->open.load()) {
                st->pending.fetch_sub(1);
                st->counters->overflow.fetch_add(1, std::memory_order_relaxed);
            }
            natsMsg_Destroy(msg);
            return;
        }
        pubsub_message m;
        m.channel = natsMsg_GetSubject(msg);
        if (const char* d = natsMsg_GetData(msg)) m.payload.assign(d, static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
        natsMsg_Destroy(msg);
        asio::post(st->ex, [s = st->shared_from_this(), m = std::move(m)]() mutable {
            s->pending.fetch_sub(1);
            s->deliver(std::move(m));
        });
    }

    // The subscription's handler has returned for the last time.
    static void on_complete(void* closure) {
        auto* pin = static_cast<std::shared_ptr<run_state>*>(closure);
        auto st = std::move(*pin);
        delete pin;
        if (st->live_subs.fetch_sub(1) == 1 && !st->open.load()) asio::post(st->ex, [st] { st->wake.cancel(); });
    }

    natsConnection* connection() {
        std::lock_guard lock(l->mu);
        return l->nc;
    }

    void add(const std::string& subject) {
        if (!open.load() || wanted[subject]++ > 0) return;
        natsConnection* nc = connection();
        if (!nc) return;
        natsSubscription* sub = nullptr;
        auto* pin = new std::shared_ptr<run_state>(shared_from_this());
        live_subs.fetch_add(1);
        // natsConnection_Subscribe only queues SUB: it does not wait for the server.
        natsStatus s = natsConnection_Subscribe(&sub, nc, subject.c_str(), &run_state::on_message, this);
        if (s != NATS_OK) {  // not subscribed: no handler will run
            delete pin;
            live_subs.fetch_sub(1);
            l->opts.log.log(logger::level::error, "nats: subscribe " + subject + ": " + natsStatus_GetText(s));
            return;
        }
        if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, l->opts.client_max_pending, -1);
        if (s == NATS_OK) s = natsSubscription_SetOnCompleteCB(sub, &run_state::on_complete, pin);
        if (s != NATS_OK) {
            l->opts.log.log(logger::level::error, "nats: subscribe " + subject + ": " + natsStatus_GetText(s));
            if (sub) {
                natsSubscription_Unsubscribe(sub);
                natsSubscription_Destroy(sub);
            }
            // Without an on-complete callback set the handler may still be
            // running: keep the pin (a bounded leak on a failure that the
            // C client reports only for a closed connection or no memory).
            return;
        }
        subs.emplace(subject, sub);
        confirm();
    }

    void remove(const std::string& subject) {
        auto w = wanted.find(subject);
        if (w == wanted.end() || --w->second > 0) return;
        wanted.erase(w);
        auto it = subs.find(subject);
        if (it == subs.end()) return;
        natsSubscription_Unsubscribe(it->second);  // on_complete follows once its handler has returned
        natsSubscription_Destroy(it->second);
        subs.erase(it);
        confirm();
    }

    // Counts the subscriptions the server has: a PING/PONG round trip
    // (blocking, on blocking_pool) after the SUBs, again while they change.
    void confirm() {
        if (flushing || !open.load()) return;
        flushing = true;
        const std::size_t n = subs.size();
        asio::post(detail::blocking_pool(), [s = shared_from_this(), n] {
            natsConnection* nc = s->connection();
            const bool ok = nc && natsConnection_FlushTimeout(nc, s->l->opts.connect_timeout.count()) == NATS_OK;
            asio::post(s->ex, [s, n, ok] {
                s->flushing = false;
                if (!s->open.load()) return;
                if (ok && n == s->subs.size()) s->counters->subscriptions.store(n);
                else if (ok) s->confirm();  // changed meanwhile; a failed flush waits for the reconnect
            });
        });
    }

    void on_link(detail::link_event e) {
        if (!open.load()) return;
        asio::post(ex, [s = shared_from_this(), e] {
            if (!s->open.load()) return;
            switch (e) {
                case detail::link_event::connected:
                case detail::link_event::reconnected:
                    if (s->sink) s->sink->subscribed();
                    s->confirm();
                    break;
                case detail::link_event::disconnected:
                    s->counters->subscriptions.store(0);
                    break;
                case detail::link_event::closed:
                    s->closed = true;
                    s->wake.cancel();
                    break;
            }
        });
    }
};

}  // namespace

nats_subscriber::nats_subscriber(nats_options o, hub& interest)
    : opts_(std::move(o)), interest_(&interest), counters_(std::make_shared<nats_counters>()) {}

nats_subscriber::nats_subscriber(nats_options o, std::vector<std::string> patterns)
    : opts_(std::move(o)), patterns_(std::move(patterns)), counters_(std::make_shared<nats_counters>()) {}

asio::awaitable<void> nats_subscriber::async_run(pubsub_sink& sink) {
    // The run cleans up after a cancellation: its own waits must still work.
    co_await asio::this_coro::throw_if_cancelled(false);
    auto st = std::make_shared<run_state>(co_await asio::this_coro::executor, opts_, counters_);
    st->sink = &sink;
    std::weak_ptr<run_state> weak = st;
    st->l->on_event = [weak](detail::link_event e) {
        if (auto s = weak.lock()) s->on_link(e);
    };
    hub* h = interest_;
    std::uint64_t watch = 0;
    std::exception_ptr failure;
    try {
        co_await detail::run_blocking<bool>([l = st->l] {
            detail::connect(l);
            return true;
        });
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        st->open.store(false);
        std::rethrow_exception(failure);
    }

    st->add(group_subject(opts_));
    for (const auto& p : patterns_) st->add(subject_of(opts_, p));
    if (h)
        watch = h->watch_patterns([weak, o = opts_](const std::string& pattern, bool up) {
            auto s = weak.lock();
            if (!s) return;
            asio::post(s->ex, [s, subject = subject_of(o, pattern), up] {
                if (up) s->add(subject);
                else s->remove(subject);
            });
        });
    if (st->counters->connected.load()) {
        sink.subscribed();
        st->confirm();
    }

    auto cs = co_await asio::this_coro::cancellation_state;
    while (!st->closed && cs.cancelled() == asio::cancellation_type::none) {
        st->wake.expires_at(asio::steady_timer::time_point::max());
        std::error_code ec;
        co_await st->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }

    // The end: no callback reaches the sink or the hub from here on.
    if (h && watch) h->unwatch_interest(watch);
    st->open.store(false);
    st->sink = nullptr;
    st->counters->subscriptions.store(0);
    for (auto& [subject, sub] : st->subs) natsSubscription_Destroy(sub);  // closed with the connection below
    st->subs.clear();
    co_await detail::run_blocking<bool>([l = st->l] {
        detail::close(l);
        return true;
    });
    // Wait until every subscription's handler has returned (they post here).
    while (st->live_subs.load() > 0) {
        st->wake.expires_after(std::chrono::seconds(5));
        std::error_code ec;
        co_await st->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) break;  // a deadline, not a wake-up: the C client did not report; do not hang the shutdown
    }
}

}  // namespace ssehub::nats
