// nats_subscriber: one NATS connection per run; subscriptions follow the
// hub's patterns (hub::watch_patterns) on the run's executor.
#include "ssehub/nats/subscriber.hpp"

#include "link.hpp"

#include "ssehub/hub.hpp"
#include "ssehub/topic.hpp"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
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

// A caller of nats_subscriber::async_subscribed, waiting on the run's
// executor until the server has every subscription of `subjects`.
struct sub_waiter {
    std::vector<std::string> subjects;
    std::function<void(bool)> done;  // posts to the caller
    std::unique_ptr<asio::steady_timer> timer;
    bool finished = false;

    void finish(bool ok) {
        if (finished) return;
        finished = true;
        if (timer) timer->cancel();
        done(ok);
    }
};

// A run's state. `ex` (the run's executor, a strand) owns everything not
// atomic. The C client's threads see it through raw pointers only while the
// run waits for them (live_subs), and post through `g`.
struct run_state : std::enable_shared_from_this<run_state> {
    run_state(asio::any_io_executor e, const nats_options& o, std::shared_ptr<nats_counters> c)
        : ex(std::move(e)), wake(ex), counters(std::move(c)), max_pending(o.max_pending), window(o.dedupe_window),
          js(o.jetstream.enabled), live_prefix(live_subject(o, "")) {
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
    const bool js;                  // JetStream: live subjects, ids from Nats-Sequence
    const std::string live_prefix;  // "PREFIX_live."
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
    // What the server has: every SUB and every (dis)connect takes a new
    // generation; a flush that returns confirms the generation it started at.
    std::uint64_t gen = 0;
    std::uint64_t confirmed = 0;
    std::uint64_t link_gen = 0;  // the last (dis)connect: nothing older counts
    std::unordered_map<std::string, std::uint64_t> sub_gen;  // subject → its SUB's generation
    std::vector<std::shared_ptr<sub_waiter>> waiters;

    bool has(const std::string& subject) const {
        auto it = sub_gen.find(subject);
        return it != sub_gen.end() && counters->connected.load() && confirmed >= std::max(it->second, link_gen);
    }
    void check_waiters() {
        for (auto& w : waiters)
            if (std::all_of(w->subjects.begin(), w->subjects.end(), [&](const std::string& s) { return has(s); }))
                w->finish(true);
        std::erase_if(waiters, [](const auto& w) { return w->finished; });
    }
    void add_waiter(std::shared_ptr<sub_waiter> w, std::chrono::milliseconds timeout) {
        if (!open.load()) return w->finish(false);
        w->timer = std::make_unique<asio::steady_timer>(ex, timeout);
        w->timer->async_wait([w](std::error_code ec) {
            if (!ec) w->finish(false);  // left in `waiters` until the next check: harmless
        });
        waiters.push_back(std::move(w));
        check_waiters();
    }

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
        if (js && m.channel.starts_with(live_prefix)) m.channel.erase(0, live_prefix.size());
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
        const char* d = natsMsg_GetData(msg);
        const auto n = static_cast<std::size_t>(natsMsg_GetDataLength(msg));
        if (st->js) {
            // The stream's republish: the id is the stream sequence ("<seq>\n<event JSON>", as core NATS carries it).
            const char* seq = nullptr;
            if (natsMsgHeader_Get(msg, "Nats-Sequence", &seq) != NATS_OK || !seq) {
                st->pending.fetch_sub(1);
                natsMsg_Destroy(msg);
                return;  // not from the stream: dropped (the fan_out counts nothing)
            }
            const std::size_t sl = std::strlen(seq);
            m.payload.reserve(sl + 1 + n);
            m.payload.append(seq, sl);
            m.payload += '\n';
        }
        if (d) m.payload.append(d, n);
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
        sub_gen[subject] = ++gen;
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
        sub_gen.erase(subject);
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
        const std::uint64_t at = gen;
        asio::post(detail::blocking_pool(), [s = shared_from_this(), n, at] {
            natsConnection* nc = s->connection();
            const bool ok = nc && natsConnection_FlushTimeout(nc, s->l->opts.connect_timeout.count()) == NATS_OK;
            s->g->post([s, n, ok, at] {
                s->flushing = false;
                if (!s->open.load()) return;
                if (ok && n == s->subs.size()) s->counters->subscriptions.store(n);
                if (ok && at >= s->link_gen) {
                    s->confirmed = std::max(s->confirmed, at);
                    s->check_waiters();
                }
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
                    s->link_gen = ++s->gen;  // the C client has resent every SUB
                    if (s->sink) s->sink->subscribed();
                    s->confirm();
                    break;
                case detail::link_event::disconnected:
                    s->link_gen = ++s->gen;
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

// Where a subscription (pattern) travels.
std::string subscription_subject(const nats_options& o, std::string_view pattern) {
    return o.jetstream.enabled ? live_subject(o, subject_of(o, pattern)) : subject_of(o, pattern);
}

// The subjects every run subscribes to, whatever the interest.
std::vector<std::string> fixed_subjects(const nats_options& o) {
    if (!o.jetstream.enabled) return {group_subject(o)};
    return {live_subject(o, group_subject(o)), live_subject(o, multi_subject(o))};
}

}  // namespace

namespace detail {
// The running run of a subscriber and its copies (null between runs).
struct run_slot {
    std::mutex mu;
    std::weak_ptr<void> run;  // a run_state
};
}  // namespace detail

nats_subscriber::nats_subscriber(nats_options o, hub& interest)
    : opts_(std::move(o)), interest_(&interest), counters_(std::make_shared<nats_counters>()),
      slot_(std::make_shared<detail::run_slot>()) {}

nats_subscriber::nats_subscriber(nats_options o, std::vector<std::string> patterns)
    : opts_(std::move(o)), patterns_(std::move(patterns)), counters_(std::make_shared<nats_counters>()),
      slot_(std::make_shared<detail::run_slot>()) {}

asio::awaitable<bool> nats_subscriber::async_subscribed(std::vector<std::string> patterns,
                                                        std::chrono::milliseconds timeout) const {
    std::shared_ptr<run_state> st;
    {
        std::lock_guard lock(slot_->mu);
        st = std::static_pointer_cast<run_state>(slot_->run.lock());
    }
    if (!st) co_return false;
    // By interest: the patterns' own subscriptions. Fixed patterns: those
    // (they cover what the hub's clients may ask, or nothing will).
    std::vector<std::string> subjects = fixed_subjects(opts_);
    for (const auto& p : interest_ ? patterns : patterns_) subjects.push_back(subscription_subject(opts_, p));
    auto start = [st, timeout](auto handler, std::vector<std::string> subj) {
        using handler_t = decltype(handler);
        struct holder {
            explicit holder(handler_t&& h) : h(std::move(h)), work(asio::make_work_guard(asio::get_associated_executor(this->h))) {}
            handler_t h;
            asio::executor_work_guard<asio::associated_executor_t<handler_t>> work;
        };
        auto hp = std::make_shared<holder>(std::move(handler));
        auto w = std::make_shared<sub_waiter>();
        w->subjects = std::move(subj);
        w->done = [hp](bool ok) {  // once (sub_waiter::finish)
            detail::post_back(std::move(hp->work), [hp, ok] { std::move(hp->h)(ok); });
        };
        asio::post(st->ex, [st, w, timeout] { st->add_waiter(w, timeout); });
    };
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(std::move(start), asio::use_awaitable,
                                                                                         std::move(subjects));
}

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

    {
        std::lock_guard lock(slot_->mu);
        slot_->run = st;
    }
    for (const auto& f : fixed_subjects(opts_)) st->add(f);
    for (const auto& p : patterns_) st->add(subscription_subject(opts_, p));
    if (h)
        watch = h->watch_patterns([weak, o = opts_](const std::string& pattern, bool up) {
            auto s = weak.lock();
            if (!s) return;
            asio::post(s->ex, [s, subject = subscription_subject(o, pattern), up] {
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
    for (auto& w : st->waiters) w->finish(false);
    st->waiters.clear();
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
