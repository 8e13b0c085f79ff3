// The connection state machine's decisions, end to end over real sockets:
// the hub must feed it real inputs (queue fill, writes, pauses, the lifetime
// jitter) and carry its actions out. Regression tests for the defects the
// state machine fixed. No sleeps: conditions are polled with deadlines.
#include "support/harness.hpp"

#include <ssehub/replayer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <future>

using namespace std::chrono_literals;

namespace {

std::string connection_id_of(const ssehub::parsed_event& connected) {
    const auto k = connected.data.find("\"connection_id\":\"");
    REQUIRE(k != std::string::npos);
    return connected.data.substr(k + 17, 32);
}

std::size_t count_type(const test::client& c, std::string_view type) {
    return static_cast<std::size_t>(
        std::count_if(c.events.begin(), c.events.end(), [&](const auto& e) { return e.type == type; }));
}

ssehub::event batched_on(std::string topic, std::string data) {
    auto e = test::event_on({std::move(topic)}, std::move(data));
    e.lane = ssehub::priority::batched;
    return e;
}

}  // namespace

TEST_CASE("a hidden tab gets no resync while hidden, and one on resume", "[wiring][pause]") {
    ssehub::hub_config cfg;
    cfg.heartbeat_interval = 40ms;  // sweeps every 10 ms; heartbeats prove sweeps ran
    test::server s(cfg);
    test::client c;
    c.get(s.port(), "/events?topics=t");
    REQUIRE(c.wait_events(1));
    const std::string id = connection_id_of(c.events[0]);
    REQUIRE(s.hub().set_paused(id, true));
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).paused_connections == 1; }));
    for (int i = 0; i < 3; ++i) s.publish_sync(batched_on("t", "b" + std::to_string(i)));
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).dropped_paused == 3; }));
    // Several sweeps after the drops: each heartbeat is one.
    const std::size_t beats = c.parser.comment_count();
    REQUIRE(c.read_until([&] { return c.parser.comment_count() >= beats + 3; }));
    CHECK(count_type(c, "resync") == 0);

    REQUIRE(s.hub().set_paused(id, false));
    s.publish_sync(test::event_on({"t"}, "after"));
    REQUIRE(c.read_until([&] { return !c.events.empty() && c.events.back().data == "after"; }));
    REQUIRE(count_type(c, "resync") == 1);
    CHECK(c.events[c.events.size() - 2].type == "resync");
    CHECK(c.events[c.events.size() - 2].data == "{\"reason\":\"paused\"}");
    CHECK(count_type(c, "message") == 1);  // the batched ones were discarded
}

TEST_CASE("a fresh hub's connected event carries an id a reconnect replays from", "[wiring][replay]") {
    for (std::size_t shards : {1u, 3u}) {
        INFO("shards " << shards);
        ssehub::hub_config cfg;
        cfg.shards = shards;
        cfg.replayer = ssehub::memory_replayer{};
        test::server s(cfg, 2);
        std::string first_id;
        for (std::size_t i = 0; i < shards; ++i) {  // one connection on each shard (round-robin)
            test::client c;
            c.get(s.port(), "/events?topics=orders");
            REQUIRE(c.wait_events(1));
            REQUIRE(c.events[0].type == "connected");
            CHECK_FALSE(c.events[0].id.empty());
            if (i == 0) first_id = c.events[0].id;
            CHECK(c.events[0].id == first_id);  // the same position on every shard
            c.close();
        }
        REQUIRE(test::poll_until([&] { return s.hub().stats(false).active_connections == 0; }));
        s.publish_sync(test::event_on({"orders"}, "created"));
        s.publish_sync(test::event_on({"orders"}, "paid"));
        test::client again;
        again.get(s.port(), "/events?topics=orders", "Last-Event-ID: " + first_id + "\r\n");
        REQUIRE(again.wait_events(3));
        CHECK(again.events[1].data == "created");
        CHECK(again.events[2].data == "paid");
        CHECK(count_type(again, "resync") == 0);
    }
}

TEST_CASE("?lastEventID= (Mercure's spelling) resumes like Last-Event-ID", "[wiring][replay]") {
    ssehub::hub_config cfg;
    cfg.replayer = ssehub::memory_replayer{};
    test::server s(cfg);
    const auto first = s.publish_sync(test::event_on({"news"}, "one"));
    s.publish_sync(test::event_on({"news"}, "two"));
    for (const char* param : {"lastEventID", "lastEventId"}) {
        INFO(param);
        test::client c;
        c.get(s.port(), "/events?topics=news&" + std::string(param) + "=" + first.id);
        REQUIRE(c.wait_events(2));
        CHECK(c.events[1].data == "two");
        CHECK(count_type(c, "resync") == 0);
    }
}

TEST_CASE("the adaptive flush tier decides when batched events go out", "[wiring][lanes]") {
    // A hub that always used flush_interval would hold the event for a minute.
    ssehub::hub_config cfg;
    cfg.flush_interval = 60s;
    cfg.flush_max = 120s;
    cfg.flush_min = 1ms;
    cfg.throttle_factor_idle = 0.0005;  // an idle connection's tier: 30 ms
    test::server s(cfg);
    test::client c;
    c.get(s.port(), "/events?topics=t");
    REQUIRE(c.wait_events(1));
    s.publish_sync(batched_on("t", "soon"));
    REQUIRE(c.wait_events(2, 20s));
    CHECK(c.events[1].data == "soon");
}

TEST_CASE("a client that fell behind gets resync slow_consumer", "[wiring][backpressure]") {
    ssehub::hub_config cfg;
    cfg.send_queue = 4;
    cfg.heartbeat_interval = 40ms;  // sweep often: the owed resync goes out soon
    test::server s(cfg);
    test::client c;
    c.get(s.port(), "/events?topics=t");
    REQUIRE(c.wait_events(1));
    // Hold the hub's only thread so that all 50 events are routed in one
    // drain, before the writer can take anything from the queue of 4.
    std::promise<void> release;
    std::promise<void> holding;
    asio::post(s.context(), [&] {
        holding.set_value();
        release.get_future().wait();
    });
    holding.get_future().wait();
    for (int i = 0; i < 50; ++i) REQUIRE_FALSE(s.hub().publish(test::event_on({"t"}, std::to_string(i))));
    release.set_value();
    REQUIRE(c.read_until([&] { return count_type(c, "resync") >= 1; }));
    const auto it = std::find_if(c.events.begin(), c.events.end(), [](const auto& e) { return e.type == "resync"; });
    CHECK(it->data == "{\"reason\":\"slow_consumer\"}");
    CHECK(s.hub().stats(false).dropped_queue_full >= 40);
    // The client catches up: events published later arrive after the resync.
    s.publish_sync(test::event_on({"t"}, "later"));
    REQUIRE(c.read_until([&] { return c.events.back().data == "later"; }));
}

TEST_CASE("lifetime jitter spreads the ends of streams that started together", "[wiring][lifetime]") {
    ssehub::hub_config cfg;
    cfg.max_lifetime = 1000ms;
    cfg.lifetime_jitter = 0.5;  // 500 .. 1500 ms
    test::server s(cfg, 2);
    constexpr int n = 16;
    std::vector<test::client> clients(n);
    std::vector<test::clock::time_point> started(n);
    for (int i = 0; i < n; ++i) {
        clients[i].get(s.port(), "/events?topics=t");
        REQUIRE(clients[i].wait_events(1));
        started[i] = test::clock::now();
    }
    std::vector<std::chrono::milliseconds> lived(n);
    std::vector<bool> done(n, false);
    const auto deadline = test::clock::now() + 20s;
    for (int left = n; left > 0 && test::clock::now() < deadline;) {
        for (int i = 0; i < n; ++i) {
            if (done[i] || !clients[i].wait_closed(3ms)) continue;  // (polls about 2 ms)
            lived[i] = std::chrono::duration_cast<std::chrono::milliseconds>(test::clock::now() - started[i]);
            done[i] = true;
            --left;
        }
    }
    REQUIRE(std::all_of(done.begin(), done.end(), [](bool d) { return d; }));
    const auto [lo, hi] = std::minmax_element(lived.begin(), lived.end());
    INFO("shortest " << lo->count() << " ms, longest " << hi->count() << " ms");
    CHECK(*hi - *lo >= 400ms);  // without jitter all end within one sweep (250 ms) of 1 s
}
