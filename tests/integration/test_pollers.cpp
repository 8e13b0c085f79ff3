// Pollers bound to subscribers, with a fake fetch that counts calls, and
// URL-derived topics. No sleeps: conditions are polled with deadlines; the
// backoff check relies only on timers never firing early.
#include "support/harness.hpp"

#include <ssehub/poller.hpp>
#include <ssehub/url_topic.hpp>

#include <catch2/catch.hpp>

#include <mutex>

using namespace std::chrono_literals;
using test::client;
using test::server;

namespace {

struct fake_source {
    std::atomic<int> calls{0};
    std::atomic<int> in_flight{0};
    std::atomic<int> max_in_flight{0};
    std::atomic<int> cancelled{0};
    std::atomic<bool> block{false};  // the next fetch waits until cancelled
    std::atomic<bool> fail{false};
    std::mutex m;
    std::string value = "v1";
    std::vector<test::clock::time_point> call_times;

    void set(std::string v) {
        std::lock_guard l(m);
        value = std::move(v);
    }
};

ssehub::poll_fetch fetch_from(std::shared_ptr<fake_source> src) {
    return [src](const ssehub::poll_context& ctx) -> asio::awaitable<ssehub::poll_result> {
        ++src->calls;
        {
            std::lock_guard l(src->m);
            src->call_times.push_back(test::clock::now());
        }
        const int now = ++src->in_flight;
        int prev = src->max_in_flight.load();
        while (now > prev && !src->max_in_flight.compare_exchange_weak(prev, now)) {}
        ssehub::poll_result r;
        if (src->block) {
            asio::steady_timer t(ctx.executor(), 1h);
            std::error_code ec;
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) ++src->cancelled;
            r = ssehub::poll_result::error("cancelled");
        } else if (src->fail) {
            r = ssehub::poll_result::error("boom");
        } else {
            std::lock_guard l(src->m);
            r = ssehub::poll_result::ok(src->value);
        }
        --src->in_flight;
        co_return r;
    };
}

// attach and the interest it watches run on the hub strand: a routed publish after them is a barrier.
void poller_barrier(server& s) {
    ssehub::event e;
    e.topics = {"barrier"};
    s.publish_sync(e);
}

ssehub::poller_options every(std::chrono::milliseconds interval) {
    ssehub::poller_options o;
    o.interval = interval;
    return o;
}

std::size_t count_of_type(const client& c, std::string_view type) {
    std::size_t n = 0;
    for (const auto& e : c.events) n += e.type == type;
    return n;
}

}  // namespace

TEST_CASE("poller: no fetch before the first subscriber, then at once", "[poller]") {
    server s;
    ssehub::pollers polls(s.hub(), s.context().get_executor());
    auto src = std::make_shared<fake_source>();
    REQUIRE(!polls.attach("devices.d1", fetch_from(src), every(1h)));
    poller_barrier(s);
    CHECK(src->calls == 0);
    client c;
    c.get(s.port(), "/events?topics=devices.*");  // through a wildcard
    REQUIRE(c.wait_events(2));
    CHECK(c.events[1].type == "update");
    CHECK(c.events[1].data == "v1");
    CHECK(src->calls == 1);
}

TEST_CASE("poller: one loop for many subscribers, unchanged payloads not re-published", "[poller]") {
    server s;
    ssehub::pollers polls(s.hub(), s.context().get_executor());
    auto src = std::make_shared<fake_source>();
    REQUIRE(!polls.attach("prices", fetch_from(src), every(10ms)));
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(std::make_unique<client>());
        clients.back()->get(s.port(), "/events?topics=prices");
    }
    for (auto& c : clients) REQUIRE(c->wait_events(2));
    REQUIRE(test::poll_until([&] { return src->calls >= 6; }));
    CHECK(src->max_in_flight == 1);  // one poll loop, however many subscribers
    src->set("v2");
    for (auto& c : clients) {
        REQUIRE(c->wait_events(3));
        CHECK(count_of_type(*c, "update") == 2);  // v1 once (though polled many times), then v2
        CHECK(c->events[2].data == "v2");
    }
}

TEST_CASE("poller: stops when the last subscriber leaves, cancelling the fetch in flight", "[poller]") {
    server s;
    ssehub::pollers polls(s.hub(), s.context().get_executor());
    auto src = std::make_shared<fake_source>();
    std::atomic<int> stops{0};
    std::atomic<int> reason{-1};
    ssehub::poller_options o;
    o.interval = 10ms;
    o.on_stop = [&](ssehub::poller_stop_reason r) {
        reason = static_cast<int>(r);
        ++stops;
    };
    src->block = true;
    REQUIRE(!polls.attach("slow", fetch_from(src), o));
    client a, b;
    a.get(s.port(), "/events?topics=slow");
    b.get(s.port(), "/events?topics=slow");
    REQUIRE(a.wait_events(1));
    REQUIRE(b.wait_events(1));
    REQUIRE(test::poll_until([&] { return src->in_flight == 1; }));
    a.close();
    REQUIRE(test::poll_until([&] { return s.hub().stats().active_connections == 1; }));
    CHECK(stops == 0);  // one subscriber left: still polling
    b.close();
    REQUIRE(test::poll_until([&] { return stops == 1; }));
    CHECK(src->cancelled == 1);
    CHECK(reason == static_cast<int>(ssehub::poller_stop_reason::no_subscribers));
    const int calls = src->calls;
    CHECK(calls == 1);

    // It starts again with the next subscriber.
    src->block = false;
    client c;
    c.get(s.port(), "/events?topics=slow");
    REQUIRE(c.wait_events(2));
    CHECK(c.events[1].data == "v1");
}

TEST_CASE("poller: stop condition and stop callback", "[poller]") {
    server s;
    ssehub::pollers polls(s.hub(), s.context().get_executor());
    auto src = std::make_shared<fake_source>();
    std::atomic<int> reason{-1};
    ssehub::poller_options o;
    o.interval = 5ms;
    o.stop_when = [](const std::string& p) { return p == "done"; };
    o.on_stop = [&](ssehub::poller_stop_reason r) { reason = static_cast<int>(r); };
    REQUIRE(!polls.attach("job.7", fetch_from(src), o));
    client c;
    c.get(s.port(), "/events?topics=job.7");
    REQUIRE(c.wait_events(2));
    src->set("done");
    REQUIRE(c.wait_events(3));
    CHECK(c.events[2].data == "done");  // the final payload is published, then it stops
    REQUIRE(test::poll_until([&] { return reason == static_cast<int>(ssehub::poller_stop_reason::condition); }));
    const int calls = src->calls;
    client late;
    late.get(s.port(), "/events?topics=job.7");
    REQUIRE(late.wait_events(1));
    poller_barrier(s);
    CHECK(src->calls == calls);  // never restarts
}

TEST_CASE("poller: errors publish an error event and back off", "[poller]") {
    server s;
    ssehub::pollers polls(s.hub(), s.context().get_executor());
    auto src = std::make_shared<fake_source>();
    src->fail = true;
    ssehub::poller_options o;
    o.interval = 10ms;
    o.backoff_factor = 2;
    o.max_backoff = 1s;
    o.only_on_change = false;
    REQUIRE(!polls.attach("flaky", fetch_from(src), o));
    client c;
    c.get(s.port(), "/events?topics=flaky");
    REQUIRE(c.wait_events(2));
    CHECK(c.events[1].type == "poll_error");
    CHECK(c.events[1].data == R"({"topic":"flaky","error":"boom","api_version":"v1"})");
    REQUIRE(test::poll_until([&] { return src->calls >= 4; }));
    {
        std::lock_guard l(src->m);
        const auto& t = src->call_times;
        // Timers never fire early: the gaps are at least 20, 40, 80 ms.
        CHECK(t[1] - t[0] >= 20ms);
        CHECK(t[2] - t[1] >= 40ms);
        CHECK(t[3] - t[2] >= 80ms);
    }
    src->fail = false;  // recovers: the value goes out
    REQUIRE(c.read_until([&] { return count_of_type(c, "update") == 1; }));
}

TEST_CASE("poller: a late subscriber gets the latest value at once", "[poller]") {
    server s;
    ssehub::pollers polls(s.hub(), s.context().get_executor());
    auto src = std::make_shared<fake_source>();
    REQUIRE(!polls.attach("state", fetch_from(src), every(1h)));
    client first;
    first.get(s.port(), "/events?topics=state");
    REQUIRE(first.wait_events(2));
    client late;
    late.get(s.port(), "/events?topics=state");
    REQUIRE(late.wait_events(2));
    CHECK(late.events[1].data == "v1");
    CHECK(src->calls == 1);  // from the last poll, not a new one
}

TEST_CASE("poller: invalid topics are refused; detach stops it", "[poller]") {
    server s;
    ssehub::pollers polls(s.hub(), s.context().get_executor());
    auto src = std::make_shared<fake_source>();
    CHECK(polls.attach("a.*", fetch_from(src)) == ssehub::error::invalid_topic);
    std::atomic<int> reason{-1};
    ssehub::poller_options o;
    o.interval = 5ms;
    o.on_stop = [&](ssehub::poller_stop_reason r) { reason = static_cast<int>(r); };
    REQUIRE(!polls.attach("x", fetch_from(src), o));
    client c;
    c.get(s.port(), "/events?topics=x");
    REQUIRE(c.wait_events(2));
    polls.detach("x");
    REQUIRE(test::poll_until([&] { return reason == static_cast<int>(ssehub::poller_stop_reason::detached); }));
}

TEST_CASE("url_topic: path and query make the topic", "[url_topic]") {
    using ssehub::url_topic;
    CHECK(url_topic("/api/v1/devices") == "api.v1.devices");
    CHECK(url_topic("/api/v1/devices?labels=a") == "api.v1.devices.?labels=a");
    CHECK(url_topic("/api/v1/devices?labels=b") == "api.v1.devices.?labels=b");
    CHECK(url_topic("/x?b=2&a=1") == url_topic("/x?a=1&b=2"));  // order does not matter
    CHECK(url_topic("/x?a=1&lastEventId=9&token=t") == "x.?a=1");   // reserved parameters are not part of it
    CHECK(url_topic("/v1.2/*/>") == "v1%2E2.%2A.%3E");              // no token splitting, no wildcards
    CHECK(url_topic("/a%20b") == "a%20b");
    CHECK(url_topic("/q?v=a.b%26c") == "q.?v=a%2Eb%26c");
    CHECK_FALSE(url_topic("/"));
    CHECK_FALSE(url_topic("/bad%zz"));
    CHECK_FALSE(url_topic("/" + std::string(300, 'a')));
}

TEST_CASE("url-derived topics: subscriber and publisher agree", "[url_topic][loopback]") {
    ssehub::hub_config cfg;
    cfg.topics_from_url = true;
    server s(cfg);
    client a, b;
    a.get(s.port(), "/api/v1/devices?labels=a");
    b.get(s.port(), "/api/v1/devices?labels=b");
    REQUIRE(a.wait_events(1));
    REQUIRE(b.wait_events(1));
    REQUIRE(test::poll_until([&] { return s.hub().stats().active_connections == 2; }));
    ssehub::event e;
    e.topics = {*ssehub::url_topic("/api/v1/devices?labels=a")};
    e.data = "for a";
    CHECK(s.publish_sync(e).matched == 1);
    REQUIRE(a.wait_events(2));
    CHECK(a.events[1].data == "for a");
}
