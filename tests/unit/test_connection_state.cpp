// connection_state, sans-io: every per-connection decision driven with a mock
// clock (a time_point the test advances), table by table. No sockets, no
// timers, no sleeps.
#include "connection/connection_state.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using ssehub::hub_config;
using ssehub::priority;
using ssehub::detail::connection_state;
using ssehub::detail::drop_reason;
using ssehub::detail::queued_frame;
using ssehub::detail::route_action;
using ssehub::detail::tick_action;
using ssehub::detail::tick_input;
using time_point = ssehub::detail::state_clock::time_point;

namespace {

const time_point t0 = time_point(std::chrono::hours(1000));  // the mock clock's start
const time_point never = time_point::max();

queued_frame frame_of(const std::string& s) { return {std::make_shared<const std::string>(s), 1}; }

std::shared_ptr<const std::string> key(const std::string& k) { return std::make_shared<const std::string>(k); }

hub_config quiet_config() {
    hub_config cfg;
    cfg.heartbeat_interval = 30s;
    cfg.write_timeout = 15s;
    cfg.slow_consumer_timeout = 30s;
    cfg.max_lifetime = 0ms;
    cfg.send_queue = 100;
    return cfg;
}

// An idle tick: nothing queued, no write in flight, last write at `last`.
tick_input idle_at(time_point now, time_point last) {
    tick_input in;
    in.now = now;
    in.last_write = last;
    return in;
}

ssehub::detail::route_decision send(connection_state& st, priority lane, time_point now, const hub_config& cfg,
                                    std::size_t queued = 0, const std::string& k = "k") {
    return st.on_event(lane, frame_of("data: x\n\n"), lane == priority::coalesced ? key(k) : nullptr, never, now,
                       queued, cfg);
}

}  // namespace

TEST_CASE("connection_state: lifetime with jitter, 0 = unlimited", "[connection_state]") {
    struct row {
        std::chrono::milliseconds lifetime;
        double jitter_cfg;
        double sample;
        time_point deadline;
    };
    const row rows[] = {
        {1000ms, 0.10, 0.0, t0 + 1000ms},  {1000ms, 0.10, 1.0, t0 + 1100ms}, {1000ms, 0.10, -1.0, t0 + 900ms},
        {1000ms, 0.10, 0.5, t0 + 1050ms},  {1000ms, 0.0, 1.0, t0 + 1000ms},  {1000ms, 0.10, 7.0, t0 + 1100ms},  // clamped
        {0ms, 0.10, 0.5, never},            // unlimited
    };
    for (const auto& r : rows) {
        INFO("lifetime " << r.lifetime.count() << " jitter " << r.jitter_cfg << " sample " << r.sample);
        hub_config cfg = quiet_config();
        cfg.max_lifetime = r.lifetime;
        cfg.lifetime_jitter = r.jitter_cfg;
        connection_state st;
        st.start(t0, r.sample, cfg);
        const auto diff = st.deadline() - r.deadline;
        CHECK(std::chrono::abs(std::chrono::duration_cast<std::chrono::microseconds>(diff)) <= 1us);
    }
}

TEST_CASE("connection_state: the lifetime ends the stream gracefully, once", "[connection_state]") {
    hub_config cfg = quiet_config();
    cfg.max_lifetime = 1000ms;
    cfg.lifetime_jitter = 0;
    connection_state st;
    st.start(t0, 0, cfg);
    CHECK(st.on_tick(idle_at(t0 + 999ms, t0 + 999ms), cfg) == tick_action::none);
    CHECK_FALSE(st.ending());
    CHECK(st.on_tick(idle_at(t0 + 1000ms, t0 + 999ms), cfg) == tick_action::end_gracefully);
    CHECK(st.reason() == ssehub::serve_reason::lifetime);
    CHECK(st.on_tick(idle_at(t0 + 2000ms, t0 + 999ms), cfg) == tick_action::none);  // already ending
    CHECK(send(st, priority::instant, t0 + 2000ms, cfg).action == route_action::skip);
}

TEST_CASE("connection_state: an expired credential ends the stream, before the lifetime, once", "[connection_state]") {
    hub_config cfg = quiet_config();
    cfg.max_lifetime = 1000ms;
    cfg.lifetime_jitter = 0;
    connection_state st;
    st.expire_at(t0 + 500ms);  // set before registration, as the hub does
    st.start(t0, 0, cfg);
    CHECK(st.on_tick(idle_at(t0 + 499ms, t0 + 499ms), cfg) == tick_action::none);
    CHECK(st.on_tick(idle_at(t0 + 500ms, t0 + 499ms), cfg) == tick_action::end_expired);
    CHECK(st.reason() == ssehub::serve_reason::auth_expired);
    CHECK(st.on_tick(idle_at(t0 + 1000ms, t0 + 999ms), cfg) == tick_action::none);  // the lifetime: already ending
    CHECK(st.reason() == ssehub::serve_reason::auth_expired);

    connection_state plain;  // no expiry: only the lifetime
    plain.start(t0, 0, cfg);
    CHECK(plain.on_tick(idle_at(t0 + 999ms, t0 + 999ms), cfg) == tick_action::none);
    CHECK(plain.on_tick(idle_at(t0 + 1000ms, t0 + 999ms), cfg) == tick_action::end_gracefully);
}

TEST_CASE("connection_state: max_lifetime 0 never ends the stream", "[connection_state]") {
    hub_config cfg = quiet_config();
    cfg.max_lifetime = 0ms;
    cfg.heartbeat_interval = 0ms;
    connection_state st;
    st.start(t0, 1.0, cfg);
    for (auto later : {1h, 24h, 24h * 365}) {
        CHECK(st.on_tick(idle_at(t0 + later, t0 + later), cfg) == tick_action::none);
        CHECK_FALSE(st.ending());
    }
}

TEST_CASE("connection_state: lifetime jitter spreads the deadlines", "[connection_state]") {
    hub_config cfg = quiet_config();
    cfg.max_lifetime = 10s;
    cfg.lifetime_jitter = 0.10;
    std::vector<time_point> deadlines;
    for (int i = 0; i <= 20; ++i) {
        connection_state st;
        st.start(t0, -1.0 + i * 0.1, cfg);
        deadlines.push_back(st.deadline());
    }
    const auto [lo, hi] = std::minmax_element(deadlines.begin(), deadlines.end());
    CHECK(*hi - *lo >= 1999ms);  // 9 s .. 11 s
    CHECK(*lo >= t0 + 9s - 1ms);
    CHECK(*hi <= t0 + 11s + 1ms);
}

TEST_CASE("connection_state: heartbeats only for an idle stream", "[connection_state]") {
    struct row {
        const char* what;
        std::chrono::milliseconds idle_for;
        bool writing;
        std::size_t queued;
        std::chrono::milliseconds interval;
        tick_action expect;
    };
    const row rows[] = {
        {"idle for the interval", 30s, false, 0, 30s, tick_action::heartbeat},
        {"idle longer", 45s, false, 0, 30s, tick_action::heartbeat},
        {"active stream: wrote lately", 29999ms, false, 0, 30s, tick_action::none},
        {"active stream: just wrote", 0ms, false, 0, 30s, tick_action::none},
        {"a write in flight", 31s, true, 0, 30s, tick_action::none},
        {"frames queued", 31s, false, 1, 30s, tick_action::none},
        {"heartbeats off", 31s, false, 0, 0s, tick_action::none},
    };
    for (const auto& r : rows) {
        INFO(r.what);
        hub_config cfg = quiet_config();
        cfg.heartbeat_interval = r.interval;
        connection_state st;
        st.start(t0, 0, cfg);
        const time_point now = t0 + 60s;
        tick_input in = idle_at(now, now - r.idle_for);
        in.queued = r.queued;
        if (r.writing) in.write_started = now - 1s;
        CHECK(st.on_tick(in, cfg) == r.expect);
        CHECK_FALSE(st.ending());
    }
}

TEST_CASE("connection_state: a write that takes too long drops the client", "[connection_state]") {
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    tick_input in = idle_at(t0 + 100s, t0 + 80s);
    in.write_started = t0 + 86s;  // 14 s ago
    CHECK(st.on_tick(in, cfg) == tick_action::none);
    in.now = t0 + 101s + 1ms;  // 15.001 s
    CHECK(st.on_tick(in, cfg) == tick_action::end_now);
    CHECK(st.reason() == ssehub::serve_reason::write_timeout);
}

TEST_CASE("connection_state: a client that fell behind gets one resync (slow_consumer)", "[connection_state]") {
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    st.on_queue_full(t0 + 1s);
    CHECK(st.owes_resync());
    CHECK(st.owed_resync() == ssehub::detail::resync_reason::slow_consumer);
    tick_input full = idle_at(t0 + 2s, t0 + 2s);
    full.queued = cfg.send_queue;  // no room yet
    CHECK(st.on_tick(full, cfg) == tick_action::none);
    tick_input room = full;
    room.queued = cfg.send_queue - 1;
    CHECK(st.on_tick(room, cfg) == tick_action::send_resync);
    CHECK_FALSE(st.owes_resync());
    CHECK(st.on_tick(room, cfg) == tick_action::none);  // once
    // Missing more later owes another.
    st.on_queue_full(t0 + 3s);
    room.now = t0 + 4s;
    CHECK(st.on_tick(room, cfg) == tick_action::send_resync);
}

TEST_CASE("connection_state: behind longer than slow_consumer_timeout disconnects", "[connection_state]") {
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    st.on_queue_full(t0);
    st.on_queue_full(t0 + 20s);  // still the first miss that counts
    tick_input full = idle_at(t0 + 30s, t0);
    full.queued = cfg.send_queue;
    CHECK(st.on_tick(full, cfg) == tick_action::none);
    full.now = t0 + 30s + 1ms;
    CHECK(st.on_tick(full, cfg) == tick_action::end_now);
    CHECK(st.reason() == ssehub::serve_reason::slow_consumer);
}

TEST_CASE("connection_state: a hidden tab gets no resync while hidden, one on resume", "[connection_state]") {
    // Defect: each batched event published while paused used to owe a
    // slow_consumer resync that the next sweep sent (three publishes gave three).
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    std::size_t discarded = 99;
    REQUIRE(st.pause(discarded));
    CHECK(discarded == 0);
    CHECK_FALSE(st.pause(discarded));  // already paused
    for (int i = 0; i < 3; ++i) {
        const time_point now = t0 + std::chrono::milliseconds(400 * (i + 1));
        const auto d = send(st, priority::batched, now, cfg);
        CHECK(d.action == route_action::dropped);
        CHECK(d.why == drop_reason::paused);
        CHECK(st.on_tick(idle_at(now + 10ms, now), cfg) == tick_action::none);  // no resync while hidden
        CHECK_FALSE(st.owes_resync());
    }
    bool resync = false;
    REQUIRE(st.resume(resync));
    CHECK(resync);  // one, on resume
    CHECK(st.on_tick(idle_at(t0 + 2s, t0 + 2s), cfg) == tick_action::none);
    CHECK_FALSE(st.resume(resync));  // not paused any more
}

TEST_CASE("connection_state: pause and resume without missed events owe nothing", "[connection_state]") {
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    std::size_t discarded = 0;
    REQUIRE(st.pause(discarded));
    CHECK(send(st, priority::instant, t0 + 1s, cfg).action == route_action::push);  // instant flows while paused
    CHECK(send(st, priority::coalesced, t0 + 1s, cfg).action == route_action::kept);  // held, no flush timer
    CHECK_FALSE(st.scheduled());
    bool resync = true;
    REQUIRE(st.resume(resync));
    CHECK_FALSE(resync);
    std::vector<queued_frame> out;
    st.take_pending(t0 + 2s, out);
    CHECK(out.size() == 1);  // the latest coalesced value, flushed at resume
}

TEST_CASE("connection_state: pausing discards what is batched; resume owes a resync", "[connection_state]") {
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    CHECK(send(st, priority::batched, t0 + 1s, cfg).action == route_action::scheduled);
    CHECK(send(st, priority::batched, t0 + 1s, cfg).action == route_action::kept);
    std::size_t discarded = 0;
    REQUIRE(st.pause(discarded));
    CHECK(discarded == 2);
    CHECK_FALSE(st.keep_scheduled());
    bool resync = false;
    REQUIRE(st.resume(resync));
    CHECK(resync);
}

TEST_CASE("connection_state: a resync owed before pausing is covered by the one on resume", "[connection_state]") {
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    std::size_t discarded = 0;
    REQUIRE(st.pause(discarded));
    CHECK(send(st, priority::batched, t0 + 1s, cfg).action == route_action::dropped);
    st.on_queue_full(t0 + 1s);  // instant events overflowed too
    bool resync = false;
    REQUIRE(st.resume(resync));
    CHECK(resync);
    CHECK_FALSE(st.owes_resync());
}

TEST_CASE("connection_state: instant events go after pending lanes", "[connection_state]") {
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    CHECK(send(st, priority::instant, t0, cfg).action == route_action::push);
    CHECK(send(st, priority::coalesced, t0, cfg, 0, "progress").action == route_action::scheduled);
    CHECK(send(st, priority::instant, t0, cfg).action == route_action::flush_then_push);
    std::vector<queued_frame> out;
    st.take_pending(t0, out);
    CHECK(out.size() == 1);
    CHECK(send(st, priority::instant, t0, cfg).action == route_action::push);
}

TEST_CASE("connection_state: the adaptive flush tier follows the queue's fill", "[connection_state]") {
    hub_config cfg = quiet_config();  // flush_interval 2000 ms, flush_min 100, flush_max 10000, send_queue 100
    struct row {
        std::size_t queued;
        std::chrono::milliseconds interval;
    };
    const row rows[] = {
        {0, 500ms},    // idle: × 0.25
        {9, 500ms},    // fill 0.09 < 0.10
        {10, 2000ms},  // normal: × 1
        {49, 2000ms},
        {50, 4000ms},  // busy: × 2
        {80, 8000ms},  // congested: × 4
        {100, 8000ms},
    };
    for (const auto& r : rows) {
        INFO("queued " << r.queued);
        connection_state st;
        st.start(t0, 0, cfg);
        const time_point at = t0 + 5s;
        CHECK(send(st, priority::batched, at, cfg, r.queued).action == route_action::scheduled);
        CHECK(st.next_flush() == at + r.interval);
        CHECK_FALSE(st.flush_due(at + r.interval - 1ms));
        CHECK(st.flush_due(at + r.interval));
    }
    // Clamped to [flush_min, flush_max].
    cfg.throttle_factor_idle = 0.001;
    cfg.throttle_factor_congested = 100;
    connection_state fast;
    fast.start(t0, 0, cfg);
    send(fast, priority::batched, t0 + 1s, cfg, 0);
    CHECK(fast.next_flush() == t0 + 1s + cfg.flush_min);
    connection_state slow;
    slow.start(t0, 0, cfg);
    send(slow, priority::batched, t0 + 1s, cfg, 100);
    CHECK(slow.next_flush() == t0 + 1s + cfg.flush_max);
}

TEST_CASE("connection_state: at most one flush per adaptive interval", "[connection_state]") {
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    CHECK(send(st, priority::batched, t0 + 1s, cfg).action == route_action::scheduled);
    std::vector<queued_frame> out;
    REQUIRE(st.flush_due(t0 + 1500ms));
    st.take_pending(t0 + 1500ms, out);
    st.flushed(t0 + 1500ms, 60, cfg);  // the queue is busy now: × 2
    CHECK(st.next_flush() == t0 + 5500ms);
    CHECK_FALSE(st.keep_scheduled());  // nothing pending: leaves the flush list
    st.unschedule();
    // A frame that arrives before the next flush waits for it.
    CHECK(send(st, priority::batched, t0 + 2s, cfg).action == route_action::scheduled);
    CHECK(st.next_flush() == t0 + 5500ms);
    CHECK_FALSE(st.flush_due(t0 + 5s));
    CHECK(st.flush_due(t0 + 5500ms));
}

TEST_CASE("connection_state: lane caps drop and owe a slow_consumer resync", "[connection_state]") {
    hub_config cfg = quiet_config();
    cfg.max_batched = 2;
    cfg.max_coalesce_keys = 1;
    connection_state st;
    st.start(t0, 0, cfg);
    send(st, priority::batched, t0, cfg);
    send(st, priority::batched, t0, cfg);
    auto d = send(st, priority::batched, t0, cfg);
    CHECK(d.action == route_action::dropped);
    CHECK(d.why == drop_reason::lane_cap);
    CHECK(st.owes_resync());
    CHECK(send(st, priority::coalesced, t0, cfg, 0, "a").action == route_action::kept);
    CHECK(send(st, priority::coalesced, t0, cfg, 0, "a").action == route_action::kept);  // same key: replaced
    d = send(st, priority::coalesced, t0, cfg, 0, "b");
    CHECK(d.action == route_action::dropped);
    CHECK(d.why == drop_reason::lane_cap);
    CHECK(st.on_tick(idle_at(t0 + 1s, t0), cfg) == tick_action::send_resync);
}

TEST_CASE("connection_state: live events are held while a replay is answered", "[connection_state]") {
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    st.replay_started();
    CHECK(send(st, priority::instant, t0, cfg).action == route_action::hold);
    CHECK(send(st, priority::batched, t0, cfg).action == route_action::hold);
    st.replay_finished();
    CHECK(send(st, priority::instant, t0, cfg).action == route_action::push);
}

TEST_CASE("connection_state: the first end reason wins; client_left by default", "[connection_state]") {
    hub_config cfg = quiet_config();
    connection_state st;
    st.start(t0, 0, cfg);
    CHECK(st.reason() == ssehub::serve_reason::client_left);
    CHECK(st.end(ssehub::serve_reason::shutdown));
    CHECK_FALSE(st.end(ssehub::serve_reason::disconnected));
    CHECK(st.reason() == ssehub::serve_reason::shutdown);
    CHECK(send(st, priority::instant, t0, cfg).action == route_action::skip);
    std::size_t discarded = 0;
    CHECK_FALSE(st.pause(discarded));
    CHECK(st.on_tick(idle_at(t0 + 1h, t0), cfg) == tick_action::none);
}
