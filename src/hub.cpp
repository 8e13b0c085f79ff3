#include "hub_impl.hpp"

#include "ssehub/json.hpp"
#include "ssehub/topic.hpp"

#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <limits>
#include <stdexcept>
#include <random>
#include <unordered_set>
#include <utility>

namespace ssehub {
namespace detail {

void report_exception(const logger& log, const char* where, std::exception_ptr e) noexcept {
    if (!e || !log.enabled(logger::level::error)) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        try {
            log.log(logger::level::error, std::string(where) + ": " + ex.what());
        } catch (...) {  // no memory for the message
        }
    } catch (...) {
        try {
            log.log(logger::level::error, std::string(where) + ": unknown exception");
        } catch (...) {
        }
    }
}

std::string random_connection_id() {
    thread_local std::random_device rd;
    static constexpr char hex[] = "0123456789abcdef";
    std::string id(32, '0');
    for (int word = 0; word < 4; ++word) {
        std::uint32_t v = rd();
        for (int k = 0; k < 8; ++k) {
            id[word * 8 + k] = hex[v & 0xF];
            v >>= 4;
        }
    }
    return id;
}

namespace {

std::string hex_fixed(std::uint64_t v, int width) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string s(static_cast<std::size_t>(width), '0');
    for (int i = width - 1; i >= 0 && v; --i, v >>= 4) s[static_cast<std::size_t>(i)] = hex[v & 0xF];
    return s;
}

std::chrono::milliseconds pick_sweep_interval(const hub_config& c) {
    using ms = std::chrono::milliseconds;
    ms m = std::min(c.heartbeat_interval, c.write_timeout);
    if (c.max_lifetime.count() > 0) m = std::min(m, c.max_lifetime);
    return std::clamp(m / 4, ms(5), ms(1000));
}

}  // namespace

hub_impl::hub_impl(asio::any_io_executor ex, hub_config c, std::size_t shard_index,
                   std::shared_ptr<std::atomic<std::size_t>> all_active)
    : cfg(std::move(c)),
      index(shard_index),
      strand(asio::make_strand(ex)),
      wake(strand),
      idle(strand),
      finished(strand),
      sweep_interval(pick_sweep_interval(cfg)),
      replay_sync(shard_index == 0 && cfg.replayer && cfg.replayer.has_sync()),
      total_active(all_active ? std::move(all_active) : std::make_shared<std::atomic<std::size_t>>(0)) {
    // Ids sort by (hub start time, sequence): unique across restarts of a node
    // that takes more than a millisecond to restart.
    const auto start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    id_prefix = hex_fixed(static_cast<std::uint64_t>(start_ms), 11) + "-";
}

void hub_impl::start() {
    asio::co_spawn(strand, run(), [self = shared_from_this()](std::exception_ptr e) {
        self->report_exception("hub run loop", e);
    });
}

std::string hub_impl::next_id() { return id_prefix + hex_fixed(++sequence, 12); }

std::error_code hub_impl::submit(event ev, publish_completion done) {
    if (stopped.load(std::memory_order_acquire)) return error::hub_stopped;
    if (ev.topics.empty() && ev.group.empty()) return error::no_target;
    for (const auto& t : ev.topics)
        if (!topic::is_valid_subject(t, cfg.max_topic_length)) return error::invalid_topic;
    if (auto ec = wire::validate_id(ev.id)) return ec;
    if (auto ec = wire::validate_type(ev.type)) return ec;

    // The bound holds for every shard's backlog: a shard that falls behind
    // pushes back on publishers like the primary does.
    for (const auto& p : peers) {
        if (p->intake.size() >= cfg.publish_intake) {
            rejected.fetch_add(1, std::memory_order_relaxed);
            return error::intake_full;
        }
    }
    intake_item item{std::move(ev), now_ns(), clock::time_point::max(), std::move(done), nullptr};
    if (item.ev.ttl.count() > 0) item.expires = clock::now() + item.ev.ttl;
    bool was_empty = false;
    if (!intake.push(item, cfg.publish_intake, was_empty)) {
        rejected.fetch_add(1, std::memory_order_relaxed);
        return error::intake_full;
    }
    // One wake-up per batch of publishes: the run loop drains everything queued.
    // Once the run loop has ended (a publish that raced with shutdown), the
    // wake-up drains itself, so the publisher still gets its answer.
    if (was_empty)
        asio::post(strand, [self = shared_from_this()] {
            if (self->run_done) self->drain_intake();
            else self->wake.cancel();
        });
    return {};
}

void hub_impl::forward(std::shared_ptr<const routed_event> ev) {
    intake_item item;
    item.routed = std::move(ev);
    bool was_empty = false;
    // Unbounded here: submit() refuses publishes while any shard is behind.
    intake.push(item, std::numeric_limits<std::size_t>::max(), was_empty);
    if (was_empty)
        asio::post(strand, [self = shared_from_this()] {
            if (self->run_done) self->drain_intake();
            else self->wake.cancel();
        });
}

void routed_event::finish(std::size_t n) const {
    if (!done) return;
    done->matched.fetch_add(n, std::memory_order_relaxed);
    if (done->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1)
        done->done({}, publish_result{done->id, done->matched.load(std::memory_order_relaxed)});
}

intake_stack::~intake_stack() {
    node* n = head_.exchange(nullptr, std::memory_order_acquire);
    while (n) delete std::exchange(n, n->next);
}

bool intake_stack::push(intake_item& item, std::size_t limit, bool& was_empty) {
    if (count_.fetch_add(1, std::memory_order_relaxed) >= limit) {
        count_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    node* n;
    try {
        n = new node{std::move(item), nullptr};
    } catch (...) {
        count_.fetch_sub(1, std::memory_order_relaxed);
        throw;
    }
    node* head = head_.load(std::memory_order_relaxed);
    do {
        n->next = head;
    } while (!head_.compare_exchange_weak(head, n, std::memory_order_release, std::memory_order_relaxed));
    was_empty = head == nullptr;
    return true;
}

void intake_stack::take(std::vector<intake_item>& out) {
    node* n = head_.exchange(nullptr, std::memory_order_acquire);
    node* fifo = nullptr;  // reversed: oldest first
    std::size_t k = 0;
    while (n) {
        node* next = n->next;
        n->next = fifo;
        fifo = n;
        n = next;
        ++k;
    }
    count_.fetch_sub(k, std::memory_order_relaxed);
    while (fifo) {
        std::unique_ptr<node> owned(std::exchange(fifo, fifo->next));
        try {
            out.push_back(std::move(owned->item));
        } catch (...) {
            while (fifo) delete std::exchange(fifo, fifo->next);
            throw;
        }
    }
}

frame resync_frame(std::string_view reason) {
    std::string data = "{\"reason\":";
    json::append_string(data, reason);
    data += '}';
    std::string out;
    wire::encode("", "resync", data, std::nullopt, out);
    return std::make_shared<const std::string>(std::move(out));
}

namespace {
// The hub's resync reasons, each encoded once for the life of the process.
const frame& resync(resync_reason why) {
    static const std::array<frame, 4> frames{resync_frame("slow_consumer"), resync_frame("paused"),
                                             resync_frame("unknown_last_event_id"), resync_frame("replay_truncated")};
    return frames[static_cast<std::size_t>(why)];
}
}  // namespace


asio::awaitable<void> hub_impl::run() {
    if (!start_marker.empty()) {
        // The replay store's first entry: the id a fresh hub's `connected`
        // event carries, so a client that reconnects before any event replays
        // everything published since (it matches no connection itself).
        stored_event marker{start_marker, std::make_shared<const std::string>(), {}, {}, clock::now(),
                            clock::time_point::max()};
        try {
            if (replay_sync) cfg.replayer.store_now(std::move(marker));
            else co_await cfg.replayer.async_store(std::move(marker));
        } catch (...) {
            report_exception("replayer store", std::current_exception());
        }
    }
    auto next_sweep = clock::now() + sweep_interval;
    rate_since = clock::now();
    while (!run_done) {
        // Under load, publishes gather for batch_delay after each drain, so
        // each connection gets the window's events in one write.
        const auto hold_until = batching ? last_drain + cfg.batch_delay : clock::time_point::min();
        if (intake.empty() || clock::now() < hold_until) {
            auto until = std::min(next_sweep, dirty.empty() ? clock::time_point::max() : next_flush_at);
            if (!intake.empty()) until = std::min(until, hold_until);
            wake.expires_at(until);
            std::error_code ec;
            co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));  // or a publish's wake-up
        } else {
            // Publishers keep the intake full: go to the back of the strand's
            // queue between batches so registrations, stats and shutdown run.
            co_await asio::post(strand, asio::use_awaitable);
        }
        auto now = clock::now();
        if (!intake.empty() && now >= hold_until) {
            drain_intake();
            now = clock::now();
        }
        if (!dirty.empty() && now >= next_flush_at) flush_due(now);
        if (now >= next_sweep) {
            sweep();
            next_sweep = clock::now() + sweep_interval;
        }
    }
}

void hub_impl::update_batching(clock::time_point now) {
    const auto span = now - rate_since;
    if (span < std::chrono::milliseconds(100)) return;  // rates over at least 100 ms
    const double seconds = std::chrono::duration<double>(span).count();
    const double events_per_s = static_cast<double>(rate_events) / seconds;
    const double deliveries_per_s = static_cast<double>(rate_deliveries) / seconds;
    const double per_window = events_per_s * std::chrono::duration<double>(cfg.batch_delay).count();
    batching = cfg.batch_delay.count() > 0 && deliveries_per_s > static_cast<double>(cfg.batch_above_deliveries) &&
               per_window >= 2.0;
    rate_since = now;
    rate_events = 0;
    rate_deliveries = 0;
}

void hub_impl::drain_intake() {
    last_drain = clock::now();
    intake.take(intake_batch);
    for (auto& item : intake_batch) {
        if (item.routed) {  // prepared by the primary
            const std::size_t n = run_done ? 0 : route_local(*item.routed, clock::now());
            ++rate_events;
            rate_deliveries += n;
            item.routed->finish(n);
        } else if (!run_done) {
            route(item);
        } else if (item.done) {
            item.done(error::hub_stopped, {});  // raced with the end of shutdown
        }
    }
    intake_batch.clear();
    update_batching(clock::now());
}

void hub_impl::observe_latency(std::int64_t ns) noexcept {
    const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(0, ns / 1000));
    std::size_t i = 0;
    while (i < hub_stats::latency_bounds_us.size() && us > hub_stats::latency_bounds_us[i]) ++i;
    latency[i].fetch_add(1, std::memory_order_relaxed);
    latency_sum_us.fetch_add(us, std::memory_order_relaxed);
}

void hub_impl::count_drop(connection_impl& c, drop_reason why, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) c.count_dropped();
    dropped.fetch_add(n, std::memory_order_relaxed);
    switch (why) {
    case drop_reason::queue_full: dropped_queue_full.fetch_add(n, std::memory_order_relaxed); break;
    case drop_reason::lane_cap: dropped_lane_cap.fetch_add(n, std::memory_order_relaxed); break;
    case drop_reason::paused: dropped_paused.fetch_add(n, std::memory_order_relaxed); break;
    }
}

void hub_impl::push_frame(connection_impl& c, queued_frame f) {
    // One slot past send_queue is reserved for heartbeats, so they never take
    // a data event's place.
    // A connection whose writer has ended (queue closed) is on its way out:
    // what it can no longer take is not a slow-consumer drop.
    if (!c.queue.try_send(std::move(f), cfg.send_queue) && !c.state.ending() && !c.queue.is_closed()) {
        c.state.on_queue_full(clock::now());
        count_drop(c, drop_reason::queue_full);
    }
}

void hub_impl::schedule_flush(connection_impl& c) {
    dirty.push_back(c.slot);
    next_flush_at = std::min(next_flush_at, c.state.next_flush());
}

void hub_impl::flush_connection(connection_impl& c, clock::time_point now) {
    flush_scratch.clear();
    const std::size_t n_expired = c.state.take_pending(now, flush_scratch);
    if (n_expired) expired.fetch_add(n_expired, std::memory_order_relaxed);
    // Batched then coalesced frames, queued back to back: the writer takes
    // them in one gathered write.
    for (auto& f : flush_scratch) push_frame(c, std::move(f));
    flush_scratch.clear();
    c.state.flushed(now, c.queue.size(), cfg);
}

void hub_impl::flush_due(clock::time_point now) {
    next_flush_at = clock::time_point::max();
    std::size_t keep = 0;
    for (std::size_t i = 0; i < dirty.size(); ++i) {
        const conn_slot s = dirty[i];
        auto& cp = slots[s];
        if (!cp) continue;  // left since
        connection_impl& c = *cp;
        if (c.state.flush_due(now)) flush_connection(c, now);
        if (!c.state.keep_scheduled()) {  // flushed, paused (held until resume), or ending
            c.state.unschedule();
            continue;
        }
        next_flush_at = std::min(next_flush_at, c.state.next_flush());
        dirty[keep++] = s;
    }
    dirty.resize(keep);
}

void hub_impl::route(intake_item& item, frame* routed) {
    event& ev = item.ev;
    const auto now = clock::now();
    if (item.expires != clock::time_point::max() && now >= item.expires) {
        expired.fetch_add(1, std::memory_order_relaxed);
        if (item.done) item.done(error::expired, {});
        return;
    }
    auto re = std::make_shared<routed_event>();
    re->id = ev.id.empty() ? next_id() : std::move(ev.id);
    if (auto ec = wire::make_frame(ev, re->id, re->bytes)) {
        if (item.done) item.done(ec, {});
        return;
    }
    re->topics = std::move(ev.topics);
    re->group = std::move(ev.group);
    re->lane = ev.lane;
    if (ev.lane == priority::coalesced)
        re->coalesce_key = std::make_shared<const std::string>(ev.coalesce_key.empty() ? ev.type : ev.coalesce_key);
    re->published_ns = item.published_ns;
    re->expires = item.expires;
    if (item.done) {
        re->done = std::make_shared<routed_event::completion>();
        re->done->done = std::move(item.done);
        re->done->remaining.store(peers.size() + 1, std::memory_order_relaxed);
        re->done->id = re->id;
    }
    const std::shared_ptr<const routed_event> shared = re;
    // The other shards first, so they work in parallel with this one.
    for (const auto& p : peers) p->forward(shared);
    const std::size_t matched = route_local(*re, now);
    ++rate_events;
    rate_deliveries += matched;
    published.fetch_add(1, std::memory_order_relaxed);
    if (cfg.replayer) {
        stored_event se{re->id, re->bytes, re->topics, re->group, now, re->expires};
        if (replay_sync) {
            try {
                cfg.replayer.store_now(std::move(se));
            } catch (...) {  // a failed store costs that event's replay, never the delivery
                report_exception("replayer store", std::current_exception());
            }
        } else {
            asio::co_spawn(strand, cfg.replayer.async_store(std::move(se)),
                           [self = shared_from_this()](std::exception_ptr e) { self->report_exception("replayer store", e); });
        }
    }
    if (routed) *routed = re->bytes;
    re->finish(matched);
}

// Carries out what the connection's state decides for one matched event.
void hub_impl::deliver(connection_impl& c, const queued_frame& q, const routed_event& ev, clock::time_point now) {
    // The instant lane inline, without the queue's size (a locked read).
    const route_decision d = ev.lane == priority::instant
                                 ? route_decision{c.state.on_instant(), {}}
                                 : c.state.on_event(ev.lane, q, ev.coalesce_key, ev.expires, now, c.queue.size(), cfg);
    switch (d.action) {
    case route_action::skip:
    case route_action::kept: break;
    case route_action::hold: c.held.emplace_back(ev.id, q); break;  // after the replay, in order, without duplicates
    case route_action::flush_then_push: flush_connection(c, now); [[fallthrough]];
    case route_action::push: push_frame(c, q); break;
    case route_action::scheduled: schedule_flush(c); break;
    case route_action::dropped: count_drop(c, d.why); break;
    }
}

std::size_t hub_impl::route_local(const routed_event& ev, clock::time_point now) {
    if (ev.expires != clock::time_point::max() && now >= ev.expires) {
        expired.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    const queued_frame q{ev.bytes, ev.published_ns};
    const std::uint64_t this_stamp = ++stamp;
    std::size_t matched = 0;
    auto deliver_to = [&](conn_slot s) {
        connection_impl& c = *slots[s];
        if (c.stamp == this_stamp) return;  // already reached through another topic
        c.stamp = this_stamp;
        if (c.state.ending()) return;
        if (!ev.group.empty() && !group_index::matches(c.metadata(), ev.group)) return;
        ++matched;
        deliver(c, q, ev, now);
    };
    if (!ev.topics.empty()) {
        for (const auto& t : ev.topics) subscriptions.for_each_match(t, deliver_to);
    } else {
        groups.for_each_candidate(ev.group, deliver_to);
    }
    if (cfg.replayer) last_routed_id = ev.id;
    return matched;
}

void hub_impl::drop_connection(const std::shared_ptr<connection_impl>& cp) {
    cp->queue.close();
    asio::post(cp->strand, [cp] { cp->stream->close(); });
}

namespace {
clock::time_point from_ns(std::int64_t ns) {
    return clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(ns)));
}
}  // namespace

namespace {
serve_reason to_serve_reason(end_reason r) noexcept {
    switch (r) {
    case end_reason::none:
    case end_reason::client_left: return serve_reason::client_left;
    case end_reason::lifetime: return serve_reason::lifetime;
    case end_reason::write_timeout: return serve_reason::write_timeout;
    case end_reason::slow_consumer: return serve_reason::slow_consumer;
    case end_reason::shutdown: return serve_reason::shutdown;
    case end_reason::disconnected: return serve_reason::disconnected;
    }
    return serve_reason::client_left;
}
}  // namespace

void hub_impl::carry_out(const std::shared_ptr<connection_impl>& cp, tick_action a) {
    connection_impl& c = *cp;
    switch (a) {
    case tick_action::none: break;
    case tick_action::end_gracefully:  // lifetime: the writer drains what is queued, then ends
        c.end_with(to_serve_reason(c.state.reason()));
        c.queue.close();
        break;
    case tick_action::end_now:
        c.end_with(to_serve_reason(c.state.reason()));
        if (c.state.reason() == end_reason::slow_consumer) slow_disconnects.fetch_add(1, std::memory_order_relaxed);
        drop_connection(cp);
        break;
    case tick_action::send_resync: c.queue.try_send(queued_frame{resync(c.state.owed_resync()), 0}, cfg.send_queue); break;
    case tick_action::heartbeat: c.queue.try_send(queued_frame{wire::heartbeat_frame(), 0}); break;  // the reserved slot; never a drop
    }
}

void hub_impl::sweep() {
    tick_input in;
    in.now = clock::now();
    for (auto& cp : slots) {
        if (!cp) continue;
        connection_impl& c = *cp;
        in.queued = c.queue.size();
        const std::int64_t started = c.write_started_ns.load(std::memory_order_relaxed);
        in.write_started = started == 0 ? clock::time_point{} : from_ns(started);
        in.last_write = from_ns(c.last_write_ns.load(std::memory_order_relaxed));
        carry_out(cp, c.state.on_tick(in, cfg));
    }
}

void hub_impl::set_paused(const std::shared_ptr<connection_impl>& cp, bool paused) {
    connection_impl& c = *cp;
    if (paused) {
        std::size_t discarded = 0;
        if (!c.state.pause(discarded)) return;
        c.paused_shown.store(true, std::memory_order_relaxed);
        paused_count.fetch_add(1, std::memory_order_relaxed);
        if (discarded) count_drop(c, drop_reason::paused, discarded);
        if (cfg.on_pause) cfg.on_pause(c);
    } else {
        bool resync_first = false;
        if (!c.state.resume(resync_first)) return;
        c.paused_shown.store(false, std::memory_order_relaxed);
        paused_count.fetch_sub(1, std::memory_order_relaxed);
        if (resync_first) push_frame(c, queued_frame{resync(resync_reason::paused), 0});
        flush_connection(c, clock::now());  // the latest coalesced state, at once
        if (cfg.on_resume) cfg.on_resume(c);
    }
}

asio::awaitable<std::error_code> hub_impl::add_connection(std::shared_ptr<connection_impl> c) {
    if (stopped.load(std::memory_order_acquire)) co_return error::hub_stopped;
    // Counted over all shards.
    if (total_active->fetch_add(1, std::memory_order_relaxed) >= cfg.max_connections) {
        total_active->fetch_sub(1, std::memory_order_relaxed);
        co_return error::too_many_connections;
    }
    conn_slot s;
    {
        std::lock_guard lock(registry_mutex);
        if (!free_slots.empty()) {
            s = free_slots.back();
            free_slots.pop_back();
            slots[s] = c;
        } else {
            s = static_cast<conn_slot>(slots.size());
            slots.push_back(c);
        }
        by_id.emplace(c->id(), c);
    }
    c->slot = s;
    c->stamp = stamp;
    c->last_write_ns.store(now_ns(), std::memory_order_relaxed);
    // Lifetime jitter: clients that connected together do not reconnect together.
    std::uniform_real_distribution<double> jitter(-1.0, 1.0);
    c->state.start(clock::now(), jitter(rng), cfg);
    for (const auto& t : c->topics()) subscriptions.add(t, s);
    groups.add(s, c->metadata());
    active.fetch_add(1, std::memory_order_relaxed);
    connections_total.fetch_add(1, std::memory_order_relaxed);
    if (cfg.replayer && c->last_event_id) {
        if (replay_sync) {
            // Registration and the replay snapshot at one point on the strand:
            // nothing is lost or sent twice.
            auto r = replay_now(*c);
            deliver_replay(*c, r);
        } else {
            c->state.replay_started();  // live events are held until the replay is delivered
            asio::co_spawn(strand, replay_async(c),
                           [self = shared_from_this()](std::exception_ptr e) { self->report_exception("replay", e); });
        }
    } else if (cfg.replayer) {
        c->resume_id = last_routed_id;  // a reconnect with it replays what follows
    }
    if (is_primary()) {
        pollers_on_connect(*c);
    } else if (auto p = primary.lock()) {
        asio::post(p->strand, [p, self = shared_from_this(), c] { p->remote_connected(self, c); });
    }
    co_return std::error_code{};
}

replay_result hub_impl::replay_now(connection_impl& c) {
    try {
        return cfg.replayer.replay_now(*c.last_event_id, c.topics(), c.metadata(), replay_limit());
    } catch (...) {
        report_exception("replayer", std::current_exception());
        return replay_result{};  // unknown: the client resyncs
    }
}

asio::awaitable<replay_result> hub_impl::replay_on_primary(std::shared_ptr<connection_impl> c) {
    if (replay_sync) co_return replay_now(*c);
    co_return co_await cfg.replayer.async_replay(*c->last_event_id, c->topics(), c->metadata(), replay_limit());
}

bool hub_impl::any_subscriber(std::string_view topic) const {
    return subscriptions.any_match(topic) || remote_subscriptions.any_match(topic);
}

void hub_impl::remote_connected(std::shared_ptr<hub_impl> shard, std::shared_ptr<connection_impl> c) {
    conn_slot s;
    if (!free_remote_slots.empty()) {
        s = free_remote_slots.back();
        free_remote_slots.pop_back();
    } else {
        s = static_cast<conn_slot>(remote_slots.size());
    }
    remote_slots.emplace(c.get(), s);
    for (const auto& t : c->topics()) remote_subscriptions.add(t, s);
    for (auto& p : pollers) {
        bool subscribed = false;
        for (const auto& pattern : c->topics()) subscribed = subscribed || topic::matches(pattern, p->topic);
        if (!subscribed) continue;
        if (!p->running) {
            start_poller(p);
        } else if (p->latest) {  // no waiting for the next poll, on the connection's shard
            asio::post(shard->strand, [shard, c, f = p->latest] {
                if (!c->state.ending()) shard->push_frame(*c, queued_frame{f, 0});
            });
        }
    }
}

void hub_impl::remote_disconnected(const std::shared_ptr<connection_impl>& c) {
    auto it = remote_slots.find(c.get());
    if (it == remote_slots.end()) return;
    for (const auto& t : c->topics()) remote_subscriptions.remove(t, it->second);
    free_remote_slots.push_back(it->second);
    remote_slots.erase(it);
    pollers_on_disconnect();
}

asio::awaitable<void> hub_impl::remove_connection(std::shared_ptr<connection_impl> c) {
    for (const auto& t : c->topics()) subscriptions.remove(t, c->slot);
    groups.remove(c->slot, c->metadata());
    {
        std::lock_guard lock(registry_mutex);
        slots[c->slot].reset();
        free_slots.push_back(c->slot);
        by_id.erase(c->id());
    }
    if (c->state.paused()) paused_count.fetch_sub(1, std::memory_order_relaxed);
    if (cfg.on_disconnect) {
        try {
            cfg.on_disconnect(*c);
        } catch (...) {
            report_exception("on_disconnect", std::current_exception());
        }
    }
    active.fetch_sub(1, std::memory_order_relaxed);
    total_active->fetch_sub(1, std::memory_order_relaxed);
    if (is_primary()) {
        pollers_on_disconnect();
    } else if (auto p = primary.lock()) {
        asio::post(p->strand, [p, c] { p->remote_disconnected(c); });
    }
    check_idle();
    co_return;
}

void hub_impl::close_all_queues() {
    for (auto& c : slots) {
        if (!c) continue;
        c->state.end(end_reason::shutdown);
        c->end_with(serve_reason::shutdown);
        c->queue.close();
    }
}

void hub_impl::force_close_all() {
    for (auto& c : slots) {
        if (!c) continue;
        c->end_with(serve_reason::shutdown);
        drop_connection(c);
    }
}

std::size_t hub_impl::replay_limit() const noexcept {
    // A replay never overflows the queue it goes into: the rest is a `resync`
    // (one slot is kept for it).
    return std::min(cfg.max_replay, cfg.send_queue > 1 ? cfg.send_queue - 1 : 1);
}

void hub_impl::deliver_replay(connection_impl& c, replay_result& r) {
    if (!r.known) {
        push_frame(c, queued_frame{resync(resync_reason::unknown_last_event_id), 0});
        return;
    }
    for (auto& e : r.events) push_frame(c, queued_frame{std::move(e.bytes), 0});
    replayed.fetch_add(r.events.size(), std::memory_order_relaxed);
    if (r.truncated) push_frame(c, queued_frame{resync(resync_reason::replay_truncated), 0});
}

asio::awaitable<void> hub_impl::replay_async(std::shared_ptr<connection_impl> c) {
    replay_result r;
    try {
        // Every replay reads the primary's store, on the primary's strand.
        if (is_primary()) {
            r = co_await cfg.replayer.async_replay(*c->last_event_id, c->topics(), c->metadata(), replay_limit());
        } else if (auto p = primary.lock()) {
            r = co_await asio::co_spawn(p->strand, p->replay_on_primary(c), asio::use_awaitable);
            // Everything the primary routed before it answered is in this
            // shard's intake by now: route it (held for this connection, so
            // what the replay has is dropped below) rather than after the
            // replay, where it would reach the client a second time.
            drain_intake();
        }
    } catch (...) {
        report_exception("replayer", std::current_exception());
        r = replay_result{};  // unknown: the client resyncs
    }
    // Back on the strand: replayed events, then the live ones that arrived
    // meanwhile and were not part of the replay.
    // De-duplicated by the ids the replayer returned beside each frame.
    auto held = std::move(c->held);
    c->held.clear();
    c->state.replay_finished();
    if (c->state.ending()) co_return;
    std::unordered_set<std::string_view> seen;  // views into r, which outlives it
    if (!held.empty())
        for (const auto& e : r.events) seen.insert(e.id);
    deliver_replay(*c, r);
    for (auto& [id, q] : held)
        if (!seen.contains(id)) push_frame(*c, std::move(q));
}

void hub_impl::check_idle() {
    if (active.load(std::memory_order_relaxed) == 0 && poll_loops.load() == 0) idle.cancel();
}

asio::awaitable<void> hub_impl::shutdown(std::chrono::milliseconds grace) {
    if (shutdown_started) {  // twice is harmless: the second call waits for the first
        while (!run_done) {
            finished.expires_at(clock::time_point::max());
            std::error_code ec;
            co_await finished.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        co_return;
    }
    shutdown_started = true;
    stopped.store(true, std::memory_order_release);
    for (auto& hook : std::exchange(shutdown_hooks, {})) {  // hub::on_shutdown
        try {
            hook();
        } catch (...) {
            report_exception("on_shutdown", std::current_exception());
        }
    }
    drain_intake();  // what was published before the shutdown still goes out
    const auto now = clock::now();
    frame bye;
    if (!cfg.shutdown_event.empty()) {
        std::string out;
        wire::encode("", cfg.shutdown_event, "{\"reason\":\"shutdown\"}", std::nullopt, out);
        bye = std::make_shared<const std::string>(std::move(out));
    }
    for (auto& c : slots) {
        if (!c || c->state.ending()) continue;
        if (!c->state.paused()) flush_connection(*c, now);  // pending lanes go out too
        if (bye) c->queue.try_send(queued_frame{bye, 0});  // the reserved slot if the queue is full
    }
    close_all_queues();
    for (auto& p : pollers) stop_poller(p, poller_stop_reason::shutdown);
    // The other shards stop in parallel, after this drain forwarded them
    // everything published before the stop.
    for (auto& p : peers) {
        ++shards_stopping;
        asio::co_spawn(p->strand, p->shutdown(grace), [self = shared_from_this()](std::exception_ptr e) {
            self->report_exception("shard shutdown", e);
            asio::post(self->strand, [self] {
                --self->shards_stopping;
                self->idle.cancel();
            });
        });
    }
    const auto deadline = clock::now() + grace;
    bool forced = false;
    while (active.load(std::memory_order_relaxed) != 0 || poll_loops.load() != 0 || shards_stopping != 0) {
        if (!forced && clock::now() >= deadline) {
            force_close_all();
            forced = true;
        }
        idle.expires_at(forced ? clock::now() + std::chrono::milliseconds(100) : deadline);
        std::error_code ec;
        co_await idle.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    run_done = true;
    wake.cancel();
    finished.cancel();
    // Publishes that raced with the stop flag get a clear answer: hub_stopped.
    drain_intake();
}

void hub_impl::request_stop() {
    asio::co_spawn(strand, shutdown(std::chrono::milliseconds(0)), [self = shared_from_this()](std::exception_ptr e) {
        self->report_exception("hub stop", e);
    });
}

}  // namespace detail

hub::hub(asio::any_io_executor ex, hub_config cfg)
    : hub(std::vector<asio::any_io_executor>(std::max<std::size_t>(1, cfg.shards), ex), std::move(cfg)) {}

hub::hub(std::vector<asio::any_io_executor> executors, hub_config cfg) {
    if (executors.empty()) throw std::invalid_argument("ssehub::hub: no executor");
    cfg.shards = executors.size();
    auto total_active = std::make_shared<std::atomic<std::size_t>>(0);
    impl_ = std::make_shared<detail::hub_impl>(executors[0], cfg, 0, total_active);
    shards_.push_back(impl_);
    for (std::size_t i = 1; i < executors.size(); ++i) {
        auto shard = std::make_shared<detail::hub_impl>(executors[i], cfg, i, total_active);
        shard->primary = impl_;
        shard->id_prefix = impl_->id_prefix;
        impl_->peers.push_back(shard);
        shards_.push_back(std::move(shard));
    }
    if (cfg.replayer) {
        // Every `connected` event carries an id, also before anything was routed.
        impl_->start_marker = impl_->next_id();
        for (auto& s : shards_) s->last_routed_id = impl_->start_marker;
    }
    // Streams find their shard by executor only when each shard has its own.
    for (std::size_t i = 0; i < executors.size(); ++i)
        for (std::size_t j = i + 1; j < executors.size(); ++j)
            if (executors[i] == executors[j]) match_executor_ = false;
    for (auto& s : shards_) s->start();
}

hub::~hub() {
    if (!impl_->stopped.load()) impl_->request_stop();
}

const hub_config& hub::config() const noexcept { return impl_->cfg; }

asio::any_io_executor hub::get_executor() const noexcept { return impl_->strand; }

std::error_code hub::publish(event ev) { return impl_->submit(std::move(ev), {}); }

void hub::enqueue(event ev, detail::publish_completion done) {
    // submit() only stores `done` on success; on a refusal it is still ours.
    auto keep = std::make_shared<detail::publish_completion>(std::move(done));
    auto ec = impl_->submit(std::move(ev), [keep](std::error_code e, publish_result r) { (*keep)(e, std::move(r)); });
    if (ec) (*keep)(ec, {});
}

asio::awaitable<publish_result> hub::async_publish(event ev) {
    co_return co_await async_publish(std::move(ev), asio::use_awaitable);
}

std::shared_ptr<detail::hub_impl> hub::shard_for(const asio::any_io_executor& ex) {
    if (shards_.size() == 1) return impl_;
    // The shard on the stream's own executor (one io_context per core), else
    // the next one round-robin.
    if (match_executor_)
        for (const auto& s : shards_)
            if (s->strand.get_inner_executor() == ex) return s;
    return shards_[next_shard_.fetch_add(1, std::memory_order_relaxed) % shards_.size()];
}

asio::awaitable<void> hub::serve(std::unique_ptr<detail::any_stream> stream, std::optional<http::request> request) {
    // Not a coroutine: no frame of its own stays alive beside the connection's.
    auto args = std::make_unique<detail::serve_args>();
    args->request = std::move(request);
    auto shard = shard_for(stream->get_executor());
    return detail::run_connection<void>(std::move(shard), std::move(stream), std::move(args));
}

namespace detail {
std::pair<std::shared_ptr<hub_impl>, std::shared_ptr<connection_impl>> find_connection(
    const std::vector<std::shared_ptr<hub_impl>>& shards, std::string_view connection_id) {
    const std::string key(connection_id);
    for (const auto& shard : shards) {
        std::lock_guard lock(shard->registry_mutex);
        if (auto it = shard->by_id.find(key); it != shard->by_id.end()) return {shard, it->second};
    }
    return {};
}
}  // namespace detail

bool hub::set_paused(std::string_view connection_id, bool paused) {
    auto [shard, c] = detail::find_connection(shards_, connection_id);
    if (!c) return false;
    asio::post(shard->strand, [shard, c, paused] { shard->set_paused(c, paused); });
    return true;
}

std::error_code hub::attach_poller(std::string topic, poll_fetch fetch, poller_options options) {
    if (!topic::is_valid_subject(topic, impl_->cfg.max_topic_length)) return error::invalid_topic;
    if (impl_->stopped.load()) return error::hub_stopped;
    auto p = std::make_shared<detail::poller_state>(asio::make_strand(impl_->strand.get_inner_executor()));
    p->topic = std::move(topic);
    p->fetch = std::move(fetch);
    p->opts = std::move(options);
    asio::post(impl_->strand, [impl = impl_, p] {
        for (auto& old : impl->pollers) {
            if (old->topic == p->topic) {
                impl->stop_poller(old, poller_stop_reason::detached);
                old = p;
                if (impl->any_subscriber(p->topic)) impl->start_poller(p);
                return;
            }
        }
        impl->pollers.push_back(p);
        if (impl->any_subscriber(p->topic)) impl->start_poller(p);
    });
    return {};
}

void hub::detach_poller(std::string topic) {
    asio::post(impl_->strand, [impl = impl_, topic = std::move(topic)] {
        auto& v = impl->pollers;
        for (auto it = v.begin(); it != v.end(); ++it) {
            if ((*it)->topic == topic) {
                impl->stop_poller(*it, poller_stop_reason::detached);
                v.erase(it);
                return;
            }
        }
    });
}

asio::awaitable<void> hub::async_shutdown(std::chrono::milliseconds grace) {
    co_await asio::co_spawn(impl_->strand, impl_->shutdown(grace), asio::use_awaitable);
}

hub_stats hub::stats(bool with_connections, std::size_t max_topics) const {
    hub_stats s;
    std::unordered_map<std::string, std::size_t> per_topic;
    for (const auto& shard : shards_) {
        const auto& im = *shard;
        s.active_connections += im.active.load();
        s.connections_total += im.connections_total.load();
        s.events_published += im.published.load();  // the primary's count: each event once
        s.events_rejected += im.rejected.load();
        s.events_expired += im.expired.load();
        s.events_dropped += im.dropped.load();
        s.slow_consumer_disconnects += im.slow_disconnects.load();
        s.paused_connections += im.paused_count.load();
        s.dropped_queue_full += im.dropped_queue_full.load();
        s.dropped_lane_cap += im.dropped_lane_cap.load();
        s.dropped_paused += im.dropped_paused.load();
        s.events_delivered += im.delivered.load();
        s.events_replayed += im.replayed.load();
        for (std::size_t i = 0; i < s.latency_counts.size(); ++i) s.latency_counts[i] += im.latency[i].load();
        s.latency_sum_us += im.latency_sum_us.load();
        std::lock_guard lock(im.registry_mutex);
        for (const auto& c : im.slots) {
            if (!c) continue;
            const std::size_t queued = c->queue.size();
            s.queued_frames += queued;
            s.max_queue_fill =
                std::max(s.max_queue_fill, static_cast<double>(queued) / static_cast<double>(im.cfg.send_queue));
            if (max_topics)
                for (const auto& t : c->topics()) ++per_topic[t];
            if (with_connections)
                s.connections.push_back({c->id(), c->sent(), c->dropped(), c->topics(),
                                         c->paused_shown.load(std::memory_order_relaxed)});
        }
    }
    if (max_topics) {
        s.topic_connections.assign(per_topic.begin(), per_topic.end());
        std::sort(s.topic_connections.begin(), s.topic_connections.end(),
                  [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
        if (s.topic_connections.size() > max_topics) s.topic_connections.resize(max_topics);
    }
    return s;
}

std::size_t hub::shard_count() const noexcept { return shards_.size(); }

void hub::on_shutdown(std::function<void()> fn) {
    asio::post(impl_->strand, [impl = impl_, fn = std::move(fn)]() mutable {
        if (impl->shutdown_started) {
            fn();
        } else {
            impl->shutdown_hooks.push_back(std::move(fn));
        }
    });
}

}  // namespace ssehub
