// Pollers: start with the first subscriber, stop with the last, publish only
// what changed. The fetch runs on the poller's own strand; only the short
// publish step runs on the hub strand.
#include "hub_impl.hpp"

#include "ssehub/json.hpp"
#include "ssehub/topic.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>

namespace ssehub::detail {
namespace {

bool subscribed_to(const connection& c, std::string_view topic_name) {
    for (const auto& pattern : c.topics())
        if (topic::matches(pattern, topic_name)) return true;
    return false;
}

asio::awaitable<void> poll_loop(std::shared_ptr<hub_impl> hub, std::shared_ptr<poller_state> p,
                                std::uint64_t generation) {
    const poll_context ctx(co_await asio::this_coro::executor, p->stop_flag);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        poll_result r;
        try {
            r = co_await p->fetch(ctx);
        } catch (const std::exception& e) {
            r = poll_result::error(e.what());
        }
        if (p->stop_flag->load()) break;
        const poll_step step =
            co_await asio::co_spawn(hub->strand, hub->poll_outcome(p, generation, std::move(r)), asio::use_awaitable);
        if (step.stop) break;
        timer.expires_after(step.delay);
        std::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec || p->stop_flag->load()) break;
    }
}

}  // namespace

void hub_impl::start_poller(const std::shared_ptr<poller_state>& p) {
    if (p->running || p->finished || stopped.load()) return;
    p->running = true;
    p->failures = 0;
    ++p->generation;
    p->cancel = std::make_shared<asio::cancellation_signal>();
    p->stop_flag = std::make_shared<std::atomic<bool>>(false);
    poll_loops.fetch_add(1);
    auto self = shared_from_this();
    asio::co_spawn(p->strand, poll_loop(self, p, p->generation),
                   asio::bind_cancellation_slot(p->cancel->slot(), [self, p, sig = p->cancel](std::exception_ptr e) {
                       try {
                           if (e) std::rethrow_exception(e);
                       } catch (const std::system_error& se) {
                           if (se.code() != asio::error::operation_aborted) self->report_exception("poller", e);
                       } catch (...) {
                           self->report_exception("poller", e);
                       }
                       if (p->opts.on_stop) {
                           try {
                               p->opts.on_stop(static_cast<poller_stop_reason>(p->stop_reason.load()));
                           } catch (...) {
                               self->report_exception("poller on_stop", std::current_exception());
                           }
                       }
                       asio::post(self->strand, [self] {
                           self->poll_loops.fetch_sub(1);
                           self->check_idle();
                       });
                   }));
}

void hub_impl::stop_poller(const std::shared_ptr<poller_state>& p, poller_stop_reason why) {
    if (why == poller_stop_reason::detached || why == poller_stop_reason::condition) p->finished = true;
    if (!p->running) return;
    p->running = false;
    p->latest.reset();  // stale once nobody watches
    p->has_last = false;
    p->last_payload.clear();
    p->stop_reason.store(static_cast<int>(why));
    p->stop_flag->store(true);
    // Cancels an in-flight fetch or the wait; emitted where the loop runs.
    asio::post(p->strand, [sig = p->cancel] { sig->emit(asio::cancellation_type::terminal); });
}

void hub_impl::pollers_on_connect(connection_impl& c) {
    for (auto& p : pollers) {
        if (!subscribed_to(c, p->topic)) continue;
        if (!p->running) start_poller(p);
        else if (p->latest) push_frame(c, queued_frame{p->latest, 0});  // no waiting for the next poll
    }
}

void hub_impl::pollers_on_disconnect() {
    for (auto& p : pollers)
        if (p->running && !any_subscriber(p->topic)) stop_poller(p, poller_stop_reason::no_subscribers);
}

asio::awaitable<poll_step> hub_impl::poll_outcome(std::shared_ptr<poller_state> p, std::uint64_t generation,
                                                  poll_result r) {
    if (!p->running || p->generation != generation) co_return poll_step{true, {}};
    const auto& o = p->opts;
    if (r.failed) {
        ++p->failures;
        std::string data = "{\"topic\":";
        json::append_string(data, p->topic);
        data += ",\"error\":";
        json::append_string(data, r.error_message);
        data += ",\"api_version\":";
        json::append_string(data, o.api_version);
        data += '}';
        intake_item item;
        item.ev.topics = {p->topic};
        item.ev.type = o.error_event_type;
        item.ev.data = std::move(data);
        route(item);
        const double factor = std::pow(std::max(1.0, o.backoff_factor), static_cast<double>(p->failures));
        const double ms = std::min(static_cast<double>(o.interval.count()) * factor, static_cast<double>(o.max_backoff.count()));
        co_return poll_step{false, std::chrono::milliseconds(static_cast<long long>(ms))};
    }
    p->failures = 0;
    if (!o.only_on_change || !p->has_last || r.payload != p->last_payload) {
        intake_item item;
        item.ev.topics = {p->topic};
        item.ev.type = o.event_type;
        item.ev.data = r.payload;
        item.ev.lane = o.lane;
        frame routed;
        route(item, &routed);
        p->latest = std::move(routed);
        p->last_payload = std::move(r.payload);
        p->has_last = true;
    }
    if (o.stop_when && o.stop_when(p->last_payload)) {
        stop_poller(p, poller_stop_reason::condition);
        co_return poll_step{true, {}};
    }
    co_return poll_step{false, o.interval};
}

}  // namespace ssehub::detail
