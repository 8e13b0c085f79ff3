// Loopback tests of the delivery lanes, pause/resume and slow consumers.
#include "support/harness.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using test::client;
using test::server;

namespace {

using test::connection_id;
using test::wait_active;

ssehub::event lane_event(std::string topic, std::string type, std::string data, ssehub::priority lane,
                         std::string key = "") {
    ssehub::event e;
    e.topics = {std::move(topic)};
    e.type = std::move(type);
    e.data = std::move(data);
    e.lane = lane;
    e.coalesce_key = std::move(key);
    return e;
}

ssehub::hub_config fast_flush() {
    ssehub::hub_config cfg;
    cfg.flush_interval = 400ms;  // idle tier: 100 ms
    cfg.flush_min = 20ms;
    return cfg;
}

}  // namespace

TEST_CASE("10,000 coalesced progress events reach a client as one frame", "[lanes][loopback]") {
    auto cfg = fast_flush();
    cfg.flush_interval = 4s;  // idle tier 1 s: the whole burst lands in one window
    server s(cfg);
    client c;
    c.get(s.port(), "/events?topics=import");
    REQUIRE(c.wait_events(1));
    REQUIRE(wait_active(s, 1));
    for (int i = 1; i <= 10000; ++i)
        REQUIRE(!s.hub().publish(lane_event("import", "progress", std::to_string(i), ssehub::priority::coalesced)));
    REQUIRE(c.wait_events(2));
    CHECK(c.events[1].type == "progress");
    CHECK(c.events[1].data == "10000");
    c.read_until([] { return false; }, 100ms);
    CHECK(c.events.size() == 2);
}

TEST_CASE("batched events arrive together after the window, in order", "[lanes][loopback]") {
    server s(fast_flush());
    client c;
    c.get(s.port(), "/events?topics=feed");
    REQUIRE(c.wait_events(1));
    REQUIRE(wait_active(s, 1));
    const std::size_t before = c.raw.size();
    s.publish_sync(lane_event("feed", "row", "first", ssehub::priority::batched));
    s.publish_sync(lane_event("feed", "row", "second", ssehub::priority::batched));
    REQUIRE(c.wait_events(3));
    CHECK(c.events[1].data == "first");
    CHECK(c.events[2].data == "second");
    // One flush: both frames arrived back to back in one read of the socket
    // (they were queued together and written with one gathered write).
    const std::string arrived = c.raw.substr(before);
    CHECK(arrived.find("first") < arrived.find("second"));
    CHECK(test::poll_until([&] { return s.hub().stats().connections.at(0).sent >= 2; }));
}

TEST_CASE("an instant event never overtakes pending progress", "[lanes][loopback]") {
    auto cfg = fast_flush();
    cfg.flush_interval = 40s;  // the window would not end during the test
    cfg.flush_max = 60s;
    server s(cfg);
    client c;
    c.get(s.port(), "/events?topics=job");
    REQUIRE(c.wait_events(1));
    REQUIRE(wait_active(s, 1));
    for (int i = 1; i <= 50; ++i) s.hub().publish(lane_event("job", "progress", std::to_string(i), ssehub::priority::coalesced));
    s.hub().publish(lane_event("job", "log", "batched line", ssehub::priority::batched));
    s.hub().publish(lane_event("job", "complete", "done", ssehub::priority::instant));
    REQUIRE(c.wait_events(4, 5s));
    CHECK(c.events[1].data == "batched line");  // batched first,
    CHECK(c.events[2].data == "50");            // then the latest coalesced value,
    CHECK(c.events[3].data == "done");          // then the instant event
}

TEST_CASE("TTL-expired events never arrive", "[lanes][loopback]") {
    auto cfg = fast_flush();
    cfg.flush_interval = 800ms;  // idle tier 200 ms
    server s(cfg);
    client c;
    c.get(s.port(), "/events?topics=t");
    REQUIRE(c.wait_events(1));
    REQUIRE(wait_active(s, 1));
    auto short_lived = lane_event("t", "x", "gone", ssehub::priority::batched);
    short_lived.ttl = 1ms;  // expires before the flush
    s.hub().publish(short_lived);
    auto fine = lane_event("t", "x", "kept", ssehub::priority::batched);
    fine.ttl = 1h;
    s.hub().publish(fine);
    REQUIRE(c.wait_events(2));
    CHECK(c.events[1].data == "kept");
    REQUIRE(test::poll_until([&] { return s.hub().stats().events_expired >= 1; }));
    c.read_until([] { return false; }, 50ms);
    CHECK(c.events.size() == 2);
}

TEST_CASE("a paused connection gets instant events, then the latest state on resume", "[lanes][loopback]") {
    std::atomic<int> pauses{0}, resumes{0};
    auto cfg = fast_flush();
    cfg.on_pause = [&](const ssehub::connection&) { ++pauses; };
    cfg.on_resume = [&](const ssehub::connection&) { ++resumes; };
    server s(cfg);
    client c;
    c.get(s.port(), "/events?topics=dash");
    REQUIRE(c.wait_events(1));
    REQUIRE(wait_active(s, 1));
    CHECK_FALSE(s.hub().set_paused("no-such-connection", true));
    REQUIRE(s.hub().set_paused(connection_id(c), true));
    // The hub counts the pause, then calls on_pause (both on its strand).
    REQUIRE(test::poll_until([&] { return s.hub().stats().paused_connections == 1 && pauses == 1; }));

    for (int i = 1; i <= 20; ++i) s.hub().publish(lane_event("dash", "progress", std::to_string(i), ssehub::priority::coalesced));
    s.hub().publish(lane_event("dash", "row", "discarded", ssehub::priority::batched));
    s.publish_sync(lane_event("dash", "alert", "urgent", ssehub::priority::instant));
    REQUIRE(c.wait_events(2));
    CHECK(c.events[1].data == "urgent");
    c.read_until([] { return false; }, 300ms);  // several flush windows pass: nothing else
    CHECK(c.events.size() == 2);

    REQUIRE(s.hub().set_paused(connection_id(c), false));
    REQUIRE(c.wait_events(4));
    CHECK(c.events[2].type == "resync");  // a batched event was discarded while hidden
    CHECK(c.events[3].data == "20");      // and the latest coalesced state
    CHECK(test::poll_until([&] { return resumes == 1; }));
    CHECK(s.hub().stats().paused_connections == 0);
}

TEST_CASE("a client that never reads gets dropped per policy; others get everything", "[lanes][loopback]") {
    ssehub::hub_config cfg;
    cfg.send_queue = 64;
    cfg.write_timeout = 1h;               // isolate the slow-consumer policy
    cfg.slow_consumer_timeout = 300ms;
    cfg.heartbeat_interval = 100ms;       // sweep often
    server s(cfg);
    client stuck, normal;
    stuck.get(s.port(), "/events?topics=feed");
    normal.get(s.port(), "/events?topics=feed");
    REQUIRE(normal.wait_events(1));
    REQUIRE(wait_active(s, 2));
    const std::string payload(4096, 'x');
    int sent = 0;
    // Publish until the stuck client is disconnected; the normal one keeps up.
    REQUIRE(test::poll_until([&] {
        for (int k = 0; k < 16; ++k) {
            const auto t0 = test::clock::now();
            REQUIRE(!s.hub().publish(lane_event("feed", "", std::to_string(sent++) + payload, ssehub::priority::instant)));
            CHECK(test::clock::now() - t0 < 1s);  // publishing never blocks (generous bound; not a benchmark)
        }
        REQUIRE(normal.wait_events(static_cast<std::size_t>(sent) + 1));
        return s.hub().stats().slow_consumer_disconnects == 1;
    }, 30s));
    REQUIRE(wait_active(s, 1));
    for (int k = 0; k < sent; ++k) REQUIRE(normal.events[static_cast<std::size_t>(k) + 1].data == std::to_string(k) + payload);
    CHECK(s.hub().stats().connections.at(0).dropped == 0);
}
