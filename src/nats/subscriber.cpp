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
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace ssehub::nats {

namespace {

// Where the C client's threads post to the run's executor: only while the
// run is on (it holds no executor after), so that nothing is posted to an
// executor whose context is gone. Thread safety: safe from any thread.
struct gate {
    std::mutex mu;
    std::optional<asio::any_io_executor> ex;

    template <class F>
    bool post(F&& f) {
        std::lock_guard lock(mu);
        if (!ex) return false;
        asio::post(*ex, std::forward<F>(f));
        return true;
    }
    void close() {
        std::lock_guard lock(mu);
        ex.reset();
    }
};

// A run's state. `ex` (the run's executor, a strand) owns everything not
// atomic. The C client's threads see it through raw pointers only while the
// run waits for them (live_subs), and post through `g`.
struct run_state : std::enable_shared_from_this<run_state> {
    run_state(asio::any_io_executor e, const nats_options& o, std::shared_ptr<nats_counters> c)
        : ex(std::move(e)), wake(ex), counters(std::move(c)), max_pending(o.max_pending), window(o.dedupe_window) {
        l = std::make_shared<detail::link>();
        l->opts = o;
        l->counters = counters;
        l->global_delivery = true;
        g = std::make_shared<gate>();
        g->ex = ex;
    }

    asio::any_io_executor ex;
    asio::steady_timer wake;  // the run waits on it: cancelled when the connection is closed
    std::shared_ptr<nats_counters> counters;
    std::shared_ptr<detail::link> l;
    std::size_t max_pending;
    std::size_t window;
    std::shared_ptr<gate> g;
    std::atomic<bool> open{true};        // false once the run ends: callbacks drop
    std::atomic<std::size_t> pending{0};  // messages posted to ex, not yet delivered
    std::mutex complete_mu;
    std::size_t live_subs = 0;  // complete_mu: subscriptions whose handler may still run
    bool ending = false;        // complete_mu: the run waits for live_subs == 0

    // ex only
    pubsub_sink* sink = nullptr;
    bool closed = false;
    std::unordered_map<std::string, natsSubscription*> subs;  // NATS subject → subscription
    std::unordered_map<std::string, std::size_t> wanted;      // subject → reasons (patterns, fixed)
    std::unordered_set<std::string> seen;
    std::deque<std::string> seen_order;
    bool flushing = false;
    bool again = false;  // confirm() was called while flushing

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
        // The run is alive: it waits for this handler's on_complete.
        if (!st->g->post([s = st->shared_from_this(), m = std::move(m)]() mutable {
                s->pending.fetch_sub(1);
                s->deliver(std::move(m));
            }))
            st->pending.fetch_sub(1);
    }

    // The subscription's handler has returned for the last time.
    static void on_complete(void* closure) {
        auto* st = static_cast<run_state*>(closure);
        std::lock_guard lock(st->complete_mu);
        if (--st->live_subs == 0 && st->ending) st->g->post([st] { st->wake.cancel(); });  // the run waits: st lives
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
        {
            std::lock_guard lock(complete_mu);
            ++live_subs;
        }
        // natsConnection_Subscribe only queues SUB: it does not wait for the server.
        natsStatus s = natsConnection_Subscribe(&sub, nc, subject.c_str(), &run_state::on_message, this);
        if (s != NATS_OK) {  // not subscribed: no handler will run
            {
                std::lock_guard lock(complete_mu);
                --live_subs;
            }
            l->opts.log.log(logger::level::error, "nats: subscribe " + subject + ": " + natsStatus_GetText(s));
            return;
        }
        if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, l->opts.client_max_pending, -1);
        if (s == NATS_OK) s = natsSubscription_SetOnCompleteCB(sub, &run_state::on_complete, this);
        if (s != NATS_OK) {
            l->opts.log.log(logger::level::error, "nats: subscribe " + subject + ": " + natsStatus_GetText(s));
            if (sub) {
                natsSubscription_Unsubscribe(sub);
                natsSubscription_Destroy(sub);
            }
            // Without an on-complete callback the run cannot know when the
            // handler is done: it waits for it until its deadline.
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
        if (!open.load()) return;
        if (flushing) {  // once more after this one: something changed (a SUB, a reconnect)
            again = true;
            return;
        }
        again = false;
        flushing = true;
        const std::size_t n = subs.size();
        asio::post(detail::blocking_pool(), [s = shared_from_this(), n] {
            natsConnection* nc = s->connection();
            const bool ok = nc && natsConnection_FlushTimeout(nc, s->l->opts.connect_timeout.count()) == NATS_OK;
            s->g->post([s, n, ok] {
                s->flushing = false;
                if (!s->open.load()) return;
                if (ok && n == s->subs.size()) s->counters->subscriptions.store(n);
                // Only an event asks again (never a failure alone: no busy loop).
                if (s->again) s->confirm();
            });
        });
    }

    // On a C client thread: no strong reference to the run here.
    static void on_link(const std::shared_ptr<gate>& g, const std::weak_ptr<run_state>& w, detail::link_event e) {
        g->post([w, e] {
            auto s = w.lock();
            if (!s || !s->open.load()) return;
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
    st->l->on_event = [g = st->g, weak](detail::link_event e) { run_state::on_link(g, weak, e); };
    hub* h = interest_;
    std::uint64_t watch = 0;
    std::exception_ptr failure;
    try {
        auto op = detail::on_pool(st->l, &detail::connect);
        co_await std::move(op);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        st->open.store(false);
        st->g->close();
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
    auto closing = detail::on_pool(st->l, &detail::close);
    co_await std::move(closing);
    // Wait until every subscription's handler has returned (on_complete posts here).
    const auto deadline = asio::steady_timer::clock_type::now() + std::chrono::seconds(5);
    for (;;) {
        {
            std::lock_guard lock(st->complete_mu);
            st->ending = true;
            if (st->live_subs == 0) break;
        }
        if (asio::steady_timer::clock_type::now() >= deadline) {
            // The C client did not report: a handler may still run with a
            // raw pointer to st, so st is left alive (leaked), never freed under it.
            opts_.log.log(logger::level::error, "nats: a subscription did not complete within 5 s of the close");
            new std::shared_ptr<run_state>(st);
            break;
        }
        st->wake.expires_at(deadline);
        std::error_code ec;
        co_await st->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    st->g->close();
}

}  // namespace ssehub::nats
