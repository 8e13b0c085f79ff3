// Pollers on the hub's public API only: watch_interest starts and stops each
// loop, spawn makes it the hub's background work, publish (retained) and
// clear_retained carry the values. Poller state lives on the pollers' strand.
#include "ssehub/poller.hpp"

#include "ssehub/json.hpp"
#include "ssehub/topic.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <unordered_map>

namespace ssehub {
namespace {

struct poller {
    std::string topic;
    poll_fetch fetch;
    poller_options opts;
    std::uint64_t watch = 0;
    // The pollers' strand.
    bool running = false;
    bool finished = false;  // stop_when fired or detached: never restarts
    std::uint64_t generation = 0;
    unsigned failures = 0;
    std::string last_payload;
    bool has_last = false;
    poller_stop_reason stop_reason = poller_stop_reason::no_subscribers;
    std::shared_ptr<asio::cancellation_signal> cancel;
    std::shared_ptr<std::atomic<bool>> stop_flag;
};

struct poll_step {
    bool stop = false;
    std::chrono::milliseconds delay{0};
};

}  // namespace

struct pollers::state : std::enable_shared_from_this<pollers::state> {
    state(hub& h, asio::any_io_executor ex) : target(&h), strand(asio::make_strand(ex)), log(h.config().log) {}

    // Publishes through the hub unless it is detached from it (~pollers).
    std::error_code publish(event ev) {
        std::lock_guard<std::recursive_mutex> lock(mu);
        return target ? target->publish(std::move(ev)) : error::hub_stopped;
    }
    void clear(const std::string& topic) {
        std::lock_guard<std::recursive_mutex> lock(mu);
        if (target) (void)target->clear_retained(topic);
    }

    void start(const std::shared_ptr<poller>& p);
    void stop(const std::shared_ptr<poller>& p, poller_stop_reason why);
    poll_step outcome(poller& p, std::uint64_t generation, poll_result r);
    void report(const char* where, std::exception_ptr e) const noexcept {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            log.log(logger::level::error, std::string(where) + ": " + x.what());
        } catch (...) {
            log.log(logger::level::error, std::string(where) + ": unknown exception");
        }
    }

    // Held across every call into the hub, so ~pollers (which nulls target)
    // waits for them. Recursive: spawn() may run the loop inline, up to its
    // first publish.
    std::recursive_mutex mu;
    hub* target;  // mu; null once detached from the hub
    std::unordered_map<std::string, std::uint64_t> watch_ids;  // mu: each topic's watch_interest id
    asio::strand<asio::any_io_executor> strand;
    logger log;  // the hub's, copied
    std::unordered_map<std::string, std::shared_ptr<poller>> by_topic;  // strand
};

namespace {

asio::awaitable<void> poll_loop(std::shared_ptr<pollers::state> st, std::shared_ptr<poller> p,
                                std::uint64_t generation) {
    const poll_context ctx(st->strand, p->stop_flag);
    asio::steady_timer timer(st->strand);
    for (;;) {
        poll_result r;
        try {
            r = co_await p->fetch(ctx);
        } catch (const std::exception& e) {
            r = poll_result::error(e.what());
        }
        if (p->stop_flag->load()) break;
        const poll_step step = st->outcome(*p, generation, std::move(r));
        if (step.stop) break;
        timer.expires_after(step.delay);
        std::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec || p->stop_flag->load()) break;
    }
}

// The background task: the loop, bound to the poller's own cancellation
// signal (its stop), then on_stop.
asio::awaitable<void> run_poller(std::shared_ptr<pollers::state> st, std::shared_ptr<poller> p,
                                 std::uint64_t generation) {
    try {
        co_await asio::co_spawn(st->strand, poll_loop(st, p, generation),
                                asio::bind_cancellation_slot(p->cancel->slot(), asio::use_awaitable));
    } catch (const std::system_error& e) {
        if (e.code() != asio::error::operation_aborted) st->report("poller", std::current_exception());
    } catch (...) {
        st->report("poller", std::current_exception());
    }
    if (p->opts.on_stop) {
        try {
            p->opts.on_stop(p->stop_reason);
        } catch (...) {
            st->report("poller on_stop", std::current_exception());
        }
    }
}

}  // namespace

void pollers::state::start(const std::shared_ptr<poller>& p) {
    if (p->running || p->finished) return;
    std::lock_guard<std::recursive_mutex> lock(mu);
    if (!target) return;
    p->running = true;
    p->failures = 0;
    ++p->generation;
    p->cancel = std::make_shared<asio::cancellation_signal>();
    p->stop_flag = std::make_shared<std::atomic<bool>>(false);
    if (!target->spawn(strand, run_poller(shared_from_this(), p, p->generation))) p->running = false;  // shutting down
}

void pollers::state::stop(const std::shared_ptr<poller>& p, poller_stop_reason why) {
    if (why == poller_stop_reason::detached || why == poller_stop_reason::condition) p->finished = true;
    if (!p->running) return;
    p->running = false;
    p->has_last = false;  // stale once nobody watches
    p->last_payload.clear();
    clear(p->topic);      // and so is the retained value
    p->stop_reason = why;
    p->stop_flag->store(true);
    p->cancel->emit(asio::cancellation_type::terminal);  // on the strand, where the loop runs
}

poll_step pollers::state::outcome(poller& p, std::uint64_t generation, poll_result r) {
    if (!p.running || p.generation != generation) return poll_step{true, {}};
    const auto& o = p.opts;
    if (r.failed) {
        ++p.failures;
        std::string data = "{\"topic\":";
        json::append_string(data, p.topic);
        data += ",\"error\":";
        json::append_string(data, r.error_message);
        data += ",\"api_version\":";
        json::append_string(data, o.api_version);
        data += '}';
        event ev;
        ev.topics = {p.topic};
        ev.type = o.error_event_type;
        ev.data = std::move(data);
        (void)publish(std::move(ev));
        const double factor = std::pow(std::max(1.0, o.backoff_factor), static_cast<double>(p.failures));
        const double ms = std::min(static_cast<double>(o.interval.count()) * factor, static_cast<double>(o.max_backoff.count()));
        return poll_step{false, std::chrono::milliseconds(static_cast<long long>(ms))};
    }
    p.failures = 0;
    if (!o.only_on_change || !p.has_last || r.payload != p.last_payload) {
        event ev;
        ev.topics = {p.topic};
        ev.type = o.event_type;
        ev.data = r.payload;
        ev.lane = o.lane;
        ev.retain = true;  // a subscriber arriving between polls gets it at once
        if (!publish(std::move(ev))) {  // refused (intake full): the next poll tries again
            p.last_payload = std::move(r.payload);
            p.has_last = true;
        }
    }
    if (o.stop_when && p.has_last && o.stop_when(p.last_payload)) {
        auto self = by_topic.find(p.topic);
        if (self != by_topic.end()) stop(self->second, poller_stop_reason::condition);
        return poll_step{true, {}};
    }
    return poll_step{false, o.interval};
}

pollers::pollers(hub& h, asio::any_io_executor ex) : state_(std::make_shared<state>(h, std::move(ex))) {
    // The hub's shutdown stops every loop (and async_shutdown waits for them).
    h.on_shutdown([weak = std::weak_ptr<state>(state_)] {
        auto st = weak.lock();
        if (!st) return;
        asio::post(st->strand, [st] {
            for (auto& [topic, p] : st->by_topic) st->stop(p, poller_stop_reason::shutdown);
        });
    });
}

pollers::~pollers() {
    // Every use of the hub happens before this returns (watch_interest is
    // safe from any thread); what runs later finds `target` null.
    {
        std::lock_guard<std::recursive_mutex> lock(state_->mu);
        for (const auto& [topic, id] : state_->watch_ids) state_->target->unwatch_interest(id);
        state_->watch_ids.clear();
        state_->target = nullptr;
    }
    asio::post(state_->strand, [st = state_] {
        for (auto& [topic, p] : st->by_topic) st->stop(p, poller_stop_reason::detached);
        st->by_topic.clear();
    });
}

std::error_code pollers::attach(std::string topic, poll_fetch fetch, poller_options options) {
    auto p = std::make_shared<poller>();
    p->topic = topic;
    p->fetch = std::move(fetch);
    p->opts = std::move(options);
    std::weak_ptr<state> weak = state_;
    {
        std::lock_guard<std::recursive_mutex> lock(state_->mu);
        hub* h = state_->target;
        if (!h) return error::hub_stopped;
        if (!topic::is_valid_subject(topic, h->config().max_topic_length)) return error::invalid_topic;
        if (auto it = state_->watch_ids.find(topic); it != state_->watch_ids.end()) h->unwatch_interest(it->second);
        // The callbacks run on the hub strand and only post to ours.
        p->watch = h->watch_interest(
            p->topic,
            [weak, p] {
                if (auto s = weak.lock()) asio::post(s->strand, [s, p] { s->start(p); });
            },
            [weak, p] {
                if (auto s = weak.lock())
                    asio::post(s->strand, [s, p] { s->stop(p, poller_stop_reason::no_subscribers); });
            });
        if (p->watch == 0) return error::hub_stopped;
        state_->watch_ids[topic] = p->watch;
    }
    // A second attach of the topic replaces the first.
    asio::post(state_->strand, [st = state_, p] {
        if (auto it = st->by_topic.find(p->topic); it != st->by_topic.end()) {
            st->stop(it->second, poller_stop_reason::detached);
            it->second = p;
        } else {
            st->by_topic.emplace(p->topic, p);
        }
    });
    return {};
}

void pollers::detach(const std::string& topic) {
    {
        std::lock_guard<std::recursive_mutex> lock(state_->mu);
        auto it = state_->watch_ids.find(topic);
        if (it == state_->watch_ids.end()) return;
        if (state_->target) state_->target->unwatch_interest(it->second);
        state_->watch_ids.erase(it);
    }
    asio::post(state_->strand, [st = state_, topic] {
        auto it = st->by_topic.find(topic);
        if (it == st->by_topic.end()) return;
        st->stop(it->second, poller_stop_reason::detached);
        st->by_topic.erase(it);
    });
}

}  // namespace ssehub
