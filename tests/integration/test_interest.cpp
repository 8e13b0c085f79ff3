// The sequencer's hub-wide surface: interest across shards (watch_interest),
// retained values for late subscribers, background work the shutdown owns
// (spawn), and async_shutdown with a completion token. Real sockets; no
// sleeps: conditions are polled with deadlines.
#include "support/harness.hpp"

#include <ssehub/replay/memory_replayer.hpp>

#include <asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <future>

using namespace std::chrono_literals;
using test::client;
using test::server;

namespace {

struct interest_log {
    std::atomic<int> first{0};
    std::atomic<int> last{0};
};

std::uint64_t watch(ssehub::hub& h, std::string topic, const std::shared_ptr<interest_log>& log) {
    return h.watch_interest(
        std::move(topic), [log] { ++log->first; }, [log] { ++log->last; });
}

// Routed on every shard after everything posted to the hub strand before it.
void barrier(server& s) {
    ssehub::event e;
    e.topics = {"barrier"};
    s.publish_sync(e);
}

ssehub::hub_config with_shards(std::size_t n) {
    ssehub::hub_config cfg;
    cfg.shards = n;
    return cfg;
}

ssehub::event retained(std::string topic, std::string data) {
    ssehub::event e;
    e.topics = {std::move(topic)};
    e.type = "state";
    e.data = std::move(data);
    e.retain = true;
    return e;
}

}  // namespace

TEST_CASE("watch_interest: first and last subscriber, exact and through wildcards, across shards",
          "[loopback][interest]") {
    server s(with_shards(3), 2);
    auto log = std::make_shared<interest_log>();
    REQUIRE(watch(s.hub(), "orders.eu", log) != 0);
    barrier(s);
    CHECK(log->first == 0);

    client a, b, c, other;
    other.get(s.port(), "/events?topics=orders.us");  // matches nothing watched
    REQUIRE(other.wait_events(1));
    a.get(s.port(), "/events?topics=orders.eu");
    REQUIRE(a.wait_events(1));
    REQUIRE(test::poll_until([&] { return log->first == 1; }));
    b.get(s.port(), "/events?topics=orders.*");  // another shard, through a wildcard
    c.get(s.port(), "/events?topics=%3E");       // ">" matches every topic
    REQUIRE(b.wait_events(1));
    REQUIRE(c.wait_events(1));
    barrier(s);
    CHECK(log->first == 1);  // interest went on once
    a.close();
    b.close();
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).active_connections == 2; }));
    barrier(s);
    CHECK(log->last == 0);  // `>` still matches
    c.close();
    REQUIRE(test::poll_until([&] { return log->last == 1; }));
    other.close();
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).active_connections == 0; }));
    CHECK(log->first == 1);
    CHECK(log->last == 1);
}

TEST_CASE("watch_interest: a watch placed while subscribers exist starts at once; unwatch ends it; bad topics",
          "[loopback][interest]") {
    server s;
    client a;
    a.get(s.port(), "/events?topics=devices.*");
    REQUIRE(a.wait_events(1));
    auto log = std::make_shared<interest_log>();
    const auto id = watch(s.hub(), "devices.d1", log);
    REQUIRE(id != 0);
    REQUIRE(test::poll_until([&] { return log->first == 1; }));
    s.hub().unwatch_interest(id);
    a.close();
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).active_connections == 0; }));
    barrier(s);
    CHECK(log->last == 0);  // unwatched: no callback

    CHECK(s.hub().watch_interest("devices.*", {}, {}) == 0);  // a pattern, not a literal topic
    CHECK(s.hub().watch_interest("", {}, {}) == 0);
}

TEST_CASE("retained: a later subscriber gets the latest value at once, by topic, wildcard and group",
          "[loopback][retained]") {
    server s(with_shards(2), 2);
    s.publish_sync(retained("state.a", "a1"));
    s.publish_sync(retained("state.a", "a2"));  // replaces a1
    auto grouped = retained("state.b", "b-acme");
    grouped.group = {{"tenant", "acme"}};
    s.publish_sync(grouped);
    ssehub::event plain;  // not retained: nobody gets it later
    plain.topics = {"state.c"};
    plain.data = "c";
    s.publish_sync(plain);

    client exact;
    exact.get(s.port(), "/events?topics=state.a");
    REQUIRE(exact.wait_events(2));
    CHECK(exact.events[1].type == "state");
    CHECK(exact.events[1].data == "a2");

    client wild;  // state.b is for tenant acme only
    wild.get(s.port(), "/events?topics=state.*");
    REQUIRE(wild.wait_events(2));
    CHECK(wild.events[1].data == "a2");
    s.publish_sync(plain);  // a marker: nothing retained came before it
    REQUIRE(wild.wait_events(3));
    CHECK(wild.events[2].data == "c");

    s.hub().clear_retained("state.a");
    CHECK(s.hub().clear_retained("state.*") == ssehub::error::invalid_topic);
    barrier(s);
    client after;
    after.get(s.port(), "/events?topics=state.a");
    REQUIRE(after.wait_events(1));
    s.publish_sync(plain);
    ssehub::event marker;
    marker.topics = {"state.a"};
    marker.data = "live";
    s.publish_sync(marker);
    REQUIRE(after.wait_events(2));
    CHECK(after.events[1].data == "live");  // no retained value first
}

TEST_CASE("retained: a reconnect with Last-Event-ID gets its replay, not the retained value",
          "[loopback][retained][replay]") {
    ssehub::hub_config cfg;
    cfg.replayer = ssehub::memory_replayer();
    server s(cfg);
    client first;
    first.get(s.port(), "/events?topics=state.a");
    REQUIRE(first.wait_events(1));
    s.publish_sync(retained("state.a", "v1"));
    REQUIRE(first.wait_events(2));
    const std::string last_id = first.events[1].id;
    s.publish_sync(retained("state.a", "v2"));
    client again;
    again.get(s.port(), "/events?topics=state.a", "Last-Event-ID: " + last_id + "\r\n");
    REQUIRE(again.wait_events(2));
    CHECK(again.events[1].data == "v2");  // replayed once, not also as the retained value
    s.publish_sync(retained("state.a", "v3"));
    REQUIRE(again.wait_events(3));
    CHECK(again.events[2].data == "v3");
}

TEST_CASE("spawn: background work is cancelled at shutdown, and async_shutdown (with a token) waits for it",
          "[loopback][shutdown]") {
    asio::io_context io;
    auto h = std::make_unique<ssehub::hub>(io.get_executor());
    auto cancelled = std::make_shared<std::atomic<bool>>(false);
    auto ended = std::make_shared<std::atomic<bool>>(false);
    REQUIRE(h->spawn(io.get_executor(), [](auto cancelled, auto ended) -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, 1h);
        std::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        *cancelled = ec == asio::error::operation_aborted;
        // Still some work after the cancellation: the shutdown waits for it.
        co_await asio::this_coro::reset_cancellation_state();
        co_await asio::post(asio::use_awaitable);
        *ended = true;
    }(cancelled, ended)));
    bool done = false;
    std::error_code result = asio::error::would_block;
    h->async_shutdown(2s, [&](std::error_code ec) {
        done = true;
        result = ec;
        CHECK(*ended);  // not before the background task finished
    });
    io.run_for(10s);
    CHECK(done);
    CHECK(!result);
    CHECK(*cancelled);
    CHECK(*ended);
    // Once shutting down, nothing new starts.
    CHECK(!h->spawn(io.get_executor(), []() -> asio::awaitable<void> { co_return; }()));
    CHECK(h->watch_interest("t", {}, {}) == 0);
}

TEST_CASE("async_shutdown: twice, with std::future tokens; both complete", "[loopback][shutdown]") {
    server s;
    client a;
    a.get(s.port(), "/events?topics=t");
    REQUIRE(a.wait_events(1));
    auto f1 = s.hub().async_shutdown(1s, asio::use_future);
    auto f2 = s.hub().async_shutdown(1s, asio::use_future);
    REQUIRE(f1.wait_for(10s) == std::future_status::ready);
    REQUIRE(f2.wait_for(10s) == std::future_status::ready);
    CHECK(s.hub().stats(false).active_connections == 0);
}
