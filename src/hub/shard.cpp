#include "hub/shard.hpp"

#include "hub/sequencer.hpp"

#include "ssehub/json.hpp"
#include "ssehub/topic.hpp"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <unordered_set>
#include <utility>

namespace ssehub::detail {
namespace {

std::chrono::milliseconds pick_sweep_interval(const hub_config& c) {
    using ms = std::chrono::milliseconds;
    ms m = std::min(c.heartbeat_interval, c.write_timeout);
    if (c.max_lifetime.count() > 0) m = std::min(m, c.max_lifetime);
    return std::clamp(m / 4, ms(5), ms(1000));
}

// The hub's resync reasons, each encoded once for the life of the process.
const frame& resync(resync_reason why) {
    static const std::array<frame, 4> frames{reason_frame("resync", "slow_consumer"), reason_frame("resync", "paused"),
                                             reason_frame("resync", "unknown_last_event_id"),
                                             reason_frame("resync", "replay_truncated")};
    return frames[static_cast<std::size_t>(why)];
}

clock::time_point from_ns(std::int64_t ns) {
    return clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace

frame reason_frame(std::string_view type, std::string_view reason) {
    std::string data = "{\"reason\":";
    json::append_string(data, reason);
    data += '}';
    std::string out;
    wire::encode("", type, data, std::nullopt, out);
    return std::make_shared<const std::string>(std::move(out));
}

shard::shard(asio::any_io_executor ex, hub_config c, std::shared_ptr<std::atomic<std::size_t>> all_active)
    : cfg(std::move(c)),
      strand(asio::make_strand(ex)),
      wake(strand),
      idle(strand),
      sweep_interval(pick_sweep_interval(cfg)),
      total_active(std::move(all_active)) {
    if (!cfg.auth_expired_event.empty()) {
        std::string out;
        wire::encode("", cfg.auth_expired_event, "{\"reason\":\"expired\"}", std::nullopt, out);
        expired_frame = std::make_shared<const std::string>(std::move(out));
    }
}

void shard::report_exception(const char* where, std::exception_ptr e) const noexcept {
    detail::report_exception(cfg.log, where, e);
}

void shard::forward(routed_batch b, std::size_t events) {
    backlog_.fetch_add(events, std::memory_order_relaxed);
    bool was_empty = false;
    // Unbounded here: the sequencer refuses publishes while a shard is behind.
    intake_.push(b, std::numeric_limits<std::size_t>::max(), was_empty);
    if (was_empty)
        asio::post(strand, [self = shared_from_this()] {
            if (self->run_done) self->drain_intake();
            else self->wake.cancel();
        });
}

asio::awaitable<void> shard::run(std::shared_ptr<shard>) {
    auto next_sweep = clock::now() + sweep_interval;
    rate_since = clock::now();
    while (!run_done) {
        // Under load, batches gather for batch_delay after each drain, so
        // each connection gets the window's events in one write.
        const auto hold_until = batching ? last_drain + cfg.batch_delay : clock::time_point::min();
        if (intake_.empty() || clock::now() < hold_until) {
            auto until = std::min(next_sweep, dirty.empty() ? clock::time_point::max() : next_flush_at);
            if (!intake_.empty()) until = std::min(until, hold_until);
            wake.expires_at(until);
            std::error_code ec;
            co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));  // or the sequencer's wake-up
        } else {
            // The intake keeps filling: go to the back of the strand's queue
            // between batches so registrations, stats and shutdown run.
            co_await asio::post(strand, asio::use_awaitable);
        }
        if (run_done) break;
        auto now = clock::now();
        if (!intake_.empty() && now >= hold_until) {
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

void shard::update_batching(clock::time_point now) {
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

void shard::drain_intake() {
    last_drain = clock::now();
    intake_.take(intake_batch_);
    for (const auto& b : intake_batch_) {
        // Off the backlog before any of its events is answered: a publisher
        // told "routed" that publishes again never meets its own old event
        // in the intake bound.
        backlog_.fetch_sub(b->size(), std::memory_order_relaxed);
        for (const auto& ev : *b) {
            std::size_t n = 0;
            if (!run_done) {
                n = route(ev, clock::now());
                ++rate_events;
                rate_deliveries += n;
            }
            ev.finish(n);
        }
    }
    intake_batch_.clear();
    update_batching(clock::now());
}

void shard::observe_latency(std::int64_t ns) noexcept {
    const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(0, ns / 1000));
    std::size_t i = 0;
    while (i < hub_stats::latency_bounds_us.size() && us > hub_stats::latency_bounds_us[i]) ++i;
    latency[i].fetch_add(1, std::memory_order_relaxed);
    latency_sum_us.fetch_add(us, std::memory_order_relaxed);
}

void shard::count_drop(connection_impl& c, drop_reason why, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) c.count_dropped();
    dropped.fetch_add(n, std::memory_order_relaxed);
    switch (why) {
    case drop_reason::queue_full: dropped_queue_full.fetch_add(n, std::memory_order_relaxed); break;
    case drop_reason::lane_cap: dropped_lane_cap.fetch_add(n, std::memory_order_relaxed); break;
    case drop_reason::paused: dropped_paused.fetch_add(n, std::memory_order_relaxed); break;
    }
}

bool shard::write_directly(connection_impl& c, queued_frame& f) {
    // Only while this thread is the only one on the stream's io_context
    // (hub_config::single_thread_contexts) and its writer waits on an empty
    // queue: nothing written is overtaken, nothing is in flight.
    const std::string& bytes = *f.bytes;
    const asio::const_buffer buf = asio::buffer(bytes);
    std::error_code ec;
    const std::size_t n = c.stream->try_write(std::span<const asio::const_buffer>(&buf, 1), ec);
    if (ec || n == 0) return false;  // the writer writes it (and meets the error itself)
    const std::int64_t done = now_ns();
    c.last_write_ns.store(done, std::memory_order_relaxed);
    if (n < bytes.size()) {  // the writer writes the rest (a new frame: rare, a full socket buffer)
        f.bytes = std::make_shared<const std::string>(bytes.substr(n));
        return false;
    }
    if (f.published_ns != 0) {
        observe_latency(done - f.published_ns);
        delivered.fetch_add(1, std::memory_order_relaxed);
    }
    c.count_sent(1);
    return true;
}

void shard::push_direct(connection_impl& c, queued_frame f) {
    using result = decltype(c.queue)::send_result;
    switch (c.queue.try_send_unless_waiting(f, cfg.send_queue)) {
    case result::sent: return;
    case result::receiver_waiting:
        if (write_directly(c, f)) return;
        break;  // to the writer, which waits for it
    case result::refused: break;  // push_frame counts it
    }
    push_frame(c, std::move(f));
}

void shard::push_frame(connection_impl& c, queued_frame f) {
    // One slot past send_queue is reserved for heartbeats, so they never take
    // a data event's place.
    // A connection whose writer has ended (queue closed) is on its way out:
    // what it can no longer take is not a slow-consumer drop.
    if (!c.queue.try_send(std::move(f), cfg.send_queue) && !c.state.ending() && !c.queue.is_closed()) {
        // Only the first miss starts the slow-consumer clock: no clock read
        // for the ones after it (a stuck client's drops stay cheap).
        if (!c.state.owes_resync()) c.state.on_queue_full(clock::now());
        count_drop(c, drop_reason::queue_full);
    }
}

void shard::schedule_flush(connection_impl& c) {
    dirty.push_back(c.slot);
    next_flush_at = std::min(next_flush_at, c.state.next_flush());
}

void shard::flush_connection(connection_impl& c, clock::time_point now) {
    flush_scratch.clear();
    const std::size_t n_expired = c.state.take_pending(now, flush_scratch);
    if (n_expired) expired.fetch_add(n_expired, std::memory_order_relaxed);
    // Batched then coalesced frames, queued back to back: the writer takes
    // them in one gathered write.
    for (auto& f : flush_scratch) push_frame(c, std::move(f));
    flush_scratch.clear();
    c.state.flushed(now, c.queue.size(), cfg);
}

void shard::flush_due(clock::time_point now) {
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

// Carries out what the connection's state decides for one matched event.
void shard::deliver(connection_impl& c, const queued_frame& q, const routed_event& ev, clock::time_point now) {
    // The instant lane inline, without the queue's size (a locked read).
    const route_decision d = ev.lane == priority::instant
                                 ? route_decision{c.state.on_instant(), {}}
                                 : c.state.on_event(ev.lane, q, ev.coalesce_key, ev.expires, now, c.queue.size(), cfg);
    switch (d.action) {
    case route_action::skip:
    case route_action::kept: break;
    case route_action::hold: c.replay->held.emplace_back(ev.id, q); break;  // after the replay, in order, without duplicates
    case route_action::flush_then_push: flush_connection(c, now); [[fallthrough]];
    case route_action::push:
        // The flag first: without it, no extra load per delivery.
        if (cfg.single_thread_contexts && c.direct_writes) push_direct(c, q);
        else push_frame(c, q);
        break;
    case route_action::scheduled: schedule_flush(c); break;
    case route_action::dropped: count_drop(c, d.why); break;
    }
}

std::size_t shard::route(const routed_event& ev, clock::time_point now) {
    if (ev.clear_retained) {
        for (const auto& t : ev.topics) retained.erase(t);
        return 0;
    }
    if (cfg.replayer) last_routed_id = ev.id;
    if (ev.expires != clock::time_point::max() && now >= ev.expires) {
        expired.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    if (ev.retain)
        for (const auto& t : ev.topics) retained.insert_or_assign(t, retained_value{ev.bytes, ev.group});
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
    return matched;
}

void shard::drop_connection(const std::shared_ptr<connection_impl>& cp) {
    cp->queue.close();
    asio::post(cp->strand, [cp] { cp->stream->close(); });
}

void shard::carry_out(const std::shared_ptr<connection_impl>& cp, tick_action a) {
    connection_impl& c = *cp;
    switch (a) {
    case tick_action::none: break;
    case tick_action::end_expired:  // the auth-expired event (the reserved slot if full), then as lifetime
        if (expired_frame) c.queue.try_send(queued_frame{expired_frame, 0});
        [[fallthrough]];
    case tick_action::end_gracefully:  // lifetime: the writer drains what is queued, then ends
        c.end_with(c.state.reason());
        c.queue.close();
        break;
    case tick_action::end_now:
        c.end_with(c.state.reason());
        if (c.state.reason() == serve_reason::slow_consumer) slow_disconnects.fetch_add(1, std::memory_order_relaxed);
        drop_connection(cp);
        break;
    case tick_action::send_resync: c.queue.try_send(queued_frame{resync(c.state.owed_resync()), 0}, cfg.send_queue); break;
    case tick_action::heartbeat: c.queue.try_send(queued_frame{wire::heartbeat_frame(), 0}); break;  // the reserved slot; never a drop
    }
}

void shard::sweep() {
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

void shard::set_paused(const std::shared_ptr<connection_impl>& cp, bool paused) {
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

void shard::interest(const connection_impl& c, bool up) {
    auto seq_ptr = seq.lock();
    for (const auto& t : c.topics()) {
        bool changed;
        if (up) {
            changed = pattern_refs[t]++ == 0;
        } else {
            auto it = pattern_refs.find(t);
            if (it == pattern_refs.end()) continue;
            changed = --it->second == 0;
            if (changed) pattern_refs.erase(it);
        }
        if (changed && seq_ptr)
            asio::post(seq_ptr->strand, [s = seq_ptr, t, up] { s->interest_changed(t, up); });
    }
}

void shard::send_retained(connection_impl& c) {
    for (const auto& pattern : c.topics()) {
        if (pattern.find_first_of("*>") == std::string::npos) {
            auto it = retained.find(pattern);
            if (it != retained.end() && group_matches(c.metadata(), it->second.group))
                push_frame(c, queued_frame{it->second.bytes, 0});
            continue;
        }
        for (const auto& [t, v] : retained)
            if (topic::matches(pattern, t) && group_matches(c.metadata(), v.group)) push_frame(c, queued_frame{v.bytes, 0});
    }
}

std::error_code shard::reserve() noexcept {
    if (stopped.load(std::memory_order_acquire)) return error::hub_stopped;
    if (total_active->fetch_add(1, std::memory_order_relaxed) >= cfg.max_connections) {
        total_active->fetch_sub(1, std::memory_order_relaxed);
        return error::too_many_connections;
    }
    return {};
}

asio::awaitable<shard::registration> shard::add_connection(std::shared_ptr<connection_impl> c) {
    if (stopped.load(std::memory_order_acquire)) {
        unreserve();
        co_return registration{error::hub_stopped, {}};
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
    interest(*c, true);
    c->connected_s = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    if (cfg.presence_events) publish_presence(*c, "join");
    registration r;
    if (cfg.replayer && c->replay) {
        c->state.replay_started();  // live events are held until the replay is delivered
        if (auto sq = seq.lock()) sq->tasks.spawn(strand, replay(shared_from_this(), c));
        else c->state.replay_finished();
    } else {
        c->replay.reset();  // (no replayer)
        if (cfg.replayer) r.resume_id = last_routed_id;  // a reconnect with it replays what follows
        if (!retained.empty()) send_retained(*c);
    }
    co_return r;
}

asio::awaitable<void> shard::remove_connection(std::shared_ptr<connection_impl> c) {
    for (const auto& t : c->topics()) subscriptions.remove(t, c->slot);
    groups.remove(c->slot, c->metadata());
    {
        std::lock_guard lock(registry_mutex);
        slots[c->slot].reset();
        free_slots.push_back(c->slot);
        by_id.erase(c->id());
    }
    if (c->state.paused()) paused_count.fetch_sub(1, std::memory_order_relaxed);
    interest(*c, false);
    if (cfg.presence_events) publish_presence(*c, "leave");
    if (cfg.on_disconnect) {
        try {
            cfg.on_disconnect(*c);
        } catch (...) {
            report_exception("on_disconnect", std::current_exception());
        }
    }
    active.fetch_sub(1, std::memory_order_relaxed);
    total_active->fetch_sub(1, std::memory_order_relaxed);
    if (active.load(std::memory_order_relaxed) == 0) idle.cancel();
    co_return;
}

void shard::deliver_replay(connection_impl& c, replay_result& r) {
    if (!r.known) {
        push_frame(c, queued_frame{resync(resync_reason::unknown_last_event_id), 0});
        return;
    }
    for (auto& e : r.events) push_frame(c, queued_frame{std::move(e.bytes), 0});
    replayed.fetch_add(r.events.size(), std::memory_order_relaxed);
    if (r.truncated) push_frame(c, queued_frame{resync(resync_reason::replay_truncated), 0});
}

asio::awaitable<void> shard::replay(std::shared_ptr<shard>, std::shared_ptr<connection_impl> c) {
    replay_result r;
    try {
        // The sequencer reads the store on its strand, so the answer is
        // ordered with the batches it hands this shard.
        auto sq = seq.lock();
        if (sq) r = co_await asio::co_spawn(sq->strand, sq->replay(c), asio::use_awaitable);
        // Everything the sequencer handed this shard before it answered is in
        // the intake by now: route it (held for this connection, so what the
        // replay has is dropped below) rather than after the replay, where it
        // would reach the client a second time.
        drain_intake();
    } catch (...) {
        report_exception("replayer", std::current_exception());
        r = replay_result{};  // unknown: the client resyncs
    }
    // Replayed events, then the live ones that arrived meanwhile and were not
    // part of the replay, de-duplicated by the ids carried beside each frame.
    auto held = std::move(c->replay->held);
    // Another shard may have delivered, before the reconnect, events this
    // shard routed only after registering it: they are held too, in
    // sequence order. The client named the last of them: it and everything
    // held before it are not sent again.
    for (std::size_t i = held.size(); i-- > 0;)
        if (held[i].first == c->replay->last_event_id) {
            held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(i) + 1);
            break;
        }
    c->replay.reset();  // (the sequencer has answered: nothing reads it any more)
    c->state.replay_finished();
    if (c->state.ending()) co_return;
    std::unordered_set<std::string_view> seen;  // views into r, which outlives it
    if (!held.empty())
        for (const auto& e : r.events) seen.insert(e.id);
    deliver_replay(*c, r);
    for (auto& [id, q] : held)
        if (!seen.contains(id)) push_frame(*c, std::move(q));
}

void shard::close_all_queues() {
    for (auto& c : slots) {
        if (!c) continue;
        c->state.end(serve_reason::shutdown);
        c->end_with(serve_reason::shutdown);
        c->queue.close();
    }
}

void shard::force_close_all() {
    for (auto& c : slots) {
        if (!c) continue;
        c->end_with(serve_reason::shutdown);
        drop_connection(c);
    }
}

asio::awaitable<void> shard::shutdown(std::chrono::milliseconds grace, frame bye) {
    drain_intake();  // everything the sequencer handed over before the stop
    const auto now = clock::now();
    for (auto& c : slots) {
        if (!c || c->state.ending()) continue;
        if (!c->state.paused()) flush_connection(*c, now);  // pending lanes go out too
        if (bye) c->queue.try_send(queued_frame{bye, 0});  // the reserved slot if the queue is full
    }
    close_all_queues();
    const auto deadline = clock::now() + grace;
    bool forced = false;
    while (active.load(std::memory_order_relaxed) != 0) {
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
    drain_intake();  // late batches: answered, not routed
}

}  // namespace ssehub::detail
