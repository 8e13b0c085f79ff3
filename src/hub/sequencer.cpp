#include "hub/sequencer.hpp"

#include "ssehub/topic.hpp"

#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <limits>
#include <utility>

namespace ssehub::detail {
namespace {

std::string hex_fixed(std::uint64_t v, int width) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string s(static_cast<std::size_t>(width), '0');
    for (int i = width - 1; i >= 0 && v; --i, v >>= 4) s[static_cast<std::size_t>(i)] = hex[v & 0xF];
    return s;
}

coro::task_scope::error_handler reporter(const logger& log, const char* where) {
    return [log, where](std::exception_ptr e) { report_exception(log, where, e); };
}

}  // namespace

sequencer::sequencer(asio::any_io_executor ex, hub_config c, std::vector<std::shared_ptr<shard>> all)
    : cfg(std::move(c)),
      strand(asio::make_strand(ex)),
      shards(std::move(all)),
      tasks(strand, reporter(cfg.log, "hub task")),
      background(strand, reporter(cfg.log, "hub background task")),
      wake_(strand),
      idle_(strand),
      finished_(strand),
      replay_sync_(cfg.replayer && cfg.replayer.has_sync()) {
    // Ids sort by (hub start time, sequence): unique across restarts of a node
    // that takes more than a millisecond to restart.
    const auto start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    id_prefix_ = hex_fixed(static_cast<std::uint64_t>(start_ms), 11) + "-";
    if (cfg.replayer) {
        // Every `connected` event carries an id, also before anything was routed.
        start_marker = next_id();
        for (auto& s : shards) s->last_routed_id = start_marker;
    }
}

void sequencer::start() {
    for (auto& s : shards) tasks.spawn(s->strand, s->run(s));
    tasks.spawn(strand, run(shared_from_this()));
}

std::string sequencer::next_id() { return id_prefix_ + hex_fixed(++sequence_, 12); }

void sequencer::report_exception(const char* where, std::exception_ptr e) const noexcept {
    detail::report_exception(cfg.log, where, e);
}

void sequencer::call(const std::function<void()>& fn, const char* where) const noexcept {
    if (!fn) return;
    try {
        fn();
    } catch (...) {
        report_exception(where, std::current_exception());
    }
}

void sequencer::wake_up() {
    // Once the run loop has ended (a publish that raced with shutdown), the
    // wake-up drains itself, so the publisher still gets its answer.
    asio::post(strand, [self = shared_from_this()] {
        if (self->run_done_) self->drain_intake();
        else self->wake_.cancel();
    });
}

std::error_code sequencer::submit(event ev, publish_completion done) {
    if (stopped.load(std::memory_order_acquire)) return error::hub_stopped;
    if (ev.topics.empty() && ev.group.empty()) return error::no_target;
    for (const auto& t : ev.topics)
        if (!topic::is_valid_subject(t, cfg.max_topic_length)) return error::invalid_topic;
    if (auto ec = wire::validate_id(ev.id)) return ec;
    if (auto ec = wire::validate_type(ev.type)) return ec;
    // The bound holds for every shard's backlog too: a shard that falls
    // behind pushes back on publishers.
    for (const auto& s : shards) {
        if (s->backlog() >= cfg.publish_intake) {
            rejected.fetch_add(1, std::memory_order_relaxed);
            return error::intake_full;
        }
    }
    intake_item item{std::move(ev), now_ns(), clock::time_point::max(), std::move(done), false};
    if (item.ev.ttl.count() > 0) item.expires = clock::now() + item.ev.ttl;
    bool was_empty = false;
    if (!intake_.push(item, cfg.publish_intake, was_empty)) {
        rejected.fetch_add(1, std::memory_order_relaxed);
        return error::intake_full;
    }
    if (was_empty) wake_up();  // one wake-up per batch of publishes
    return {};
}

std::error_code sequencer::submit_clear(std::string topic_name) {
    if (stopped.load(std::memory_order_acquire)) return error::hub_stopped;
    if (!topic::is_valid_subject(topic_name, cfg.max_topic_length)) return error::invalid_topic;
    intake_item item;
    item.ev.topics.push_back(std::move(topic_name));
    item.clear_retained = true;
    bool was_empty = false;
    // In order with the publishes before it; never refused for a full intake
    // (it frees memory rather than taking it).
    intake_.push(item, std::numeric_limits<std::size_t>::max(), was_empty);
    if (was_empty) wake_up();
    return {};
}

asio::awaitable<void> sequencer::run(std::shared_ptr<sequencer>) {
    if (!start_marker.empty()) {
        // The replay store's first entry: the id a fresh hub's `connected`
        // event carries, so a client that reconnects before any event replays
        // everything published since (it matches no connection itself).
        stored_event marker{start_marker, std::make_shared<const std::string>(), {}, {}, clock::now(),
                            clock::time_point::max()};
        try {
            if (replay_sync_) cfg.replayer.store_now(std::move(marker));
            else co_await cfg.replayer.async_store(std::move(marker));
            if (const auto n = cfg.replayer.stored_count()) replay_events.store(static_cast<std::int64_t>(*n), std::memory_order_relaxed);
        } catch (...) {
            report_exception("replayer store", std::current_exception());
        }
    }
    while (!run_done_) {
        if (intake_.empty()) {
            wake_.expires_at(clock::time_point::max());
            std::error_code ec;
            co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));  // a publish's wake-up
        } else {
            // Publishers keep the intake full: go to the back of the strand's
            // queue between batches so replays, interest and shutdown run.
            co_await asio::post(strand, asio::use_awaitable);
        }
        if (!run_done_) drain_intake();
    }
}

bool sequencer::prepare(intake_item& item, routed_event& re, clock::time_point now) {
    event& ev = item.ev;
    if (item.clear_retained) {
        re.topics = std::move(ev.topics);
        re.clear_retained = true;
        return true;
    }
    if (item.expires != clock::time_point::max() && now >= item.expires) {
        expired.fetch_add(1, std::memory_order_relaxed);
        if (item.done) item.done(error::expired, {});
        return false;
    }
    re.id = ev.id.empty() ? next_id() : std::move(ev.id);
    if (auto ec = wire::make_frame(ev, re.id, re.bytes)) {
        if (item.done) item.done(ec, {});
        return false;
    }
    re.topics = std::move(ev.topics);
    re.group = std::move(ev.group);
    re.lane = ev.lane;
    re.retain = ev.retain;
    if (ev.lane == priority::coalesced)
        re.coalesce_key = std::make_shared<const std::string>(ev.coalesce_key.empty() ? ev.type : ev.coalesce_key);
    re.published_ns = item.published_ns;
    re.expires = item.expires;
    if (item.done) {
        re.done = std::make_shared<routed_event::completion>();
        re.done->done = std::move(item.done);
        re.done->remaining.store(shards.size(), std::memory_order_relaxed);
        re.done->id = re.id;
    }
    return true;
}

void sequencer::store(const routed_event& re, clock::time_point now) {
    if (!cfg.replayer || re.clear_retained) return;
    stored_event se{re.id, re.bytes, re.topics, re.group, now, re.expires};
    if (replay_sync_) {
        try {
            cfg.replayer.store_now(std::move(se));
            if (const auto n = cfg.replayer.stored_count()) replay_events.store(static_cast<std::int64_t>(*n), std::memory_order_relaxed);
        } catch (...) {  // a failed store costs that event's replay, never the delivery
            report_exception("replayer store", std::current_exception());
        }
    } else {
        tasks.spawn(strand, cfg.replayer.async_store(std::move(se)));
    }
}

void sequencer::drain_intake() {
    intake_.take(intake_batch_);
    if (intake_batch_.empty()) return;
    if (run_done_) {  // raced with the end of shutdown
        for (auto& item : intake_batch_)
            if (item.done) item.done(error::hub_stopped, {});
        intake_batch_.clear();
        return;
    }
    auto out = std::make_shared<std::vector<routed_event>>();
    out->reserve(intake_batch_.size());
    const auto now = clock::now();
    for (auto& item : intake_batch_) {
        routed_event re;
        if (!prepare(item, re, now)) continue;
        if (!re.clear_retained) published.fetch_add(1, std::memory_order_relaxed);
        store(re, now);
        out->push_back(std::move(re));
    }
    intake_batch_.clear();
    if (out->empty()) return;
    const std::size_t n = out->size();
    const routed_batch batch = std::move(out);
    for (const auto& s : shards) s->forward(batch, n);
}

std::size_t sequencer::replay_limit() const noexcept {
    // A replay never overflows the queue it goes into: the rest is a `resync`
    // (one slot is kept for it).
    return std::min(cfg.max_replay, cfg.send_queue > 1 ? cfg.send_queue - 1 : 1);
}

asio::awaitable<replay_result> sequencer::replay(std::shared_ptr<connection_impl> c) {
    // Topics and metadata are fixed before registration: read-only here.
    const std::string& last_id = c->replay->last_event_id;
    if (replay_sync_) co_return cfg.replayer.replay_now(last_id, c->topics(), c->metadata(), replay_limit());
    co_return co_await cfg.replayer.async_replay(last_id, c->topics(), c->metadata(), replay_limit());
}

void sequencer::interest_changed(const std::string& pattern, bool up) {
    std::size_t& n = interest_[pattern];
    const bool first = up && n++ == 0;
    const bool last = !up && n > 0 && --n == 0;
    if (last) interest_.erase(pattern);
    if (!first && !last) return;
    for (std::size_t i = 0; i < pattern_watchers_.size(); ++i) {
        const auto fn = pattern_watchers_[i].second;  // a copy: the callback may unwatch
        try {
            fn(pattern, first);
        } catch (...) {
            report_exception("watch_patterns", std::current_exception());
        }
    }
    for (std::size_t i = 0; i < watchers_.size(); ++i) {
        // By index, calling copies: a callback may watch or unwatch.
        watcher& w = watchers_[i];
        if (!topic::matches(pattern, w.topic)) continue;
        if (first && w.live++ == 0) {
            const auto fn = w.on_first;
            call(fn, "watch_interest on_first");
        } else if (last && --w.live == 0) {
            const auto fn = w.on_last;
            call(fn, "watch_interest on_last");
        }
    }
}

void sequencer::watch(std::uint64_t id, std::string topic_name, std::function<void()> on_first,
                      std::function<void()> on_last) {
    if (shutdown_started_) return;
    std::size_t live = 0;
    for (const auto& [pattern, n] : interest_) live += topic::matches(pattern, topic_name);
    if (live) call(on_first, "watch_interest on_first");
    watchers_.push_back(watcher{id, std::move(topic_name), std::move(on_first), std::move(on_last), live});
}

void sequencer::unwatch(std::uint64_t id) {
    std::erase_if(watchers_, [id](const watcher& w) { return w.id == id; });
    std::erase_if(pattern_watchers_, [id](const auto& w) { return w.first == id; });
}

void sequencer::watch_patterns(std::uint64_t id, std::function<void(const std::string&, bool)> on_change) {
    if (shutdown_started_ || !on_change) return;
    for (const auto& [pattern, n] : interest_) {
        try {
            on_change(pattern, true);
        } catch (...) {
            report_exception("watch_patterns", std::current_exception());
        }
    }
    pattern_watchers_.emplace_back(id, std::move(on_change));
}

void sequencer::on_shutdown(std::function<void()> fn) {
    if (shutdown_started_) call(fn, "on_shutdown");
    else shutdown_hooks_.push_back(std::move(fn));
}

asio::awaitable<void> sequencer::join(coro::task_scope& scope, clock::time_point deadline) {
    if (scope.size() == 0) co_return;
    // On this strand (not the system executor's threads): it cannot run
    // between the size check below and the wait, and it dies with the context.
    scope.async_wait(asio::bind_executor(strand, [self = shared_from_this()](std::error_code) { self->idle_.cancel(); }));
    while (scope.size() != 0 && clock::now() < deadline) {
        idle_.expires_at(deadline);
        std::error_code ec;
        co_await idle_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> sequencer::shutdown(std::chrono::milliseconds grace) {
    if (shutdown_started_) {  // twice is harmless: the second call waits for the first
        while (!run_done_) {
            finished_.expires_at(clock::time_point::max());
            std::error_code ec;
            co_await finished_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        co_return;
    }
    shutdown_started_ = true;
    const auto started = clock::now();
    stopped.store(true, std::memory_order_release);
    for (auto& s : shards) s->stopped.store(true, std::memory_order_release);
    for (auto& hook : std::exchange(shutdown_hooks_, {})) call(hook, "on_shutdown");
    watchers_.clear();
    pattern_watchers_.clear();
    background.cancel();
    drain_intake();  // what was published before the stop still goes out
    frame bye;
    if (!cfg.shutdown_event.empty()) {
        std::string out;
        wire::encode("", cfg.shutdown_event, "{\"reason\":\"shutdown\"}", std::nullopt, out);
        bye = std::make_shared<const std::string>(std::move(out));
    }
    // The shards stop in parallel, each after routing what it was handed.
    shards_stopping_ = shards.size();
    for (auto& s : shards) {
        asio::co_spawn(s->strand, s->shutdown(grace, bye), [self = shared_from_this()](std::exception_ptr e) {
            self->report_exception("shard shutdown", e);
            asio::post(self->strand, [self] {
                --self->shards_stopping_;
                self->idle_.cancel();
            });
        });
    }
    while (shards_stopping_ != 0) {
        idle_.expires_at(clock::time_point::max());
        std::error_code ec;
        co_await idle_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    // Background work was cancelled at the start; a task that ignores it gets
    // until the grace period ends (it holds its own state: nothing dangles).
    co_await join(background, started + grace);
    run_done_ = true;
    wake_.cancel();
    // The run loops end now; replay stores in flight get the same grace.
    co_await join(tasks, clock::now() + grace);
    finished_.cancel();
    // Publishes that raced with the stop flag get a clear answer: hub_stopped.
    drain_intake();
}

void sequencer::request_stop() {
    asio::co_spawn(strand, shutdown(std::chrono::milliseconds(0)), [self = shared_from_this()](std::exception_ptr e) {
        self->report_exception("hub stop", e);
    });
}

std::pair<std::shared_ptr<shard>, std::shared_ptr<connection_impl>> find_connection(
    const std::vector<std::shared_ptr<shard>>& shards, std::string_view connection_id) {
    for (const auto& s : shards) {
        std::lock_guard lock(s->registry_mutex);
        if (auto it = s->by_id.find(connection_id); it != s->by_id.end()) return {s, it->second};
    }
    return {};
}

}  // namespace ssehub::detail
