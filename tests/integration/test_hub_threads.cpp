// The hub with its io_context on several threads and publishers on others:
// what multi-core operation must keep (every event once, in order, ids
// increasing per connection, the intake bound exact). Runs in the TSan build.
#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using test::client;
using test::server;

namespace {

using test::wait_active;

}  // namespace

TEST_CASE("threads: concurrent publishers, every event once and in order on every connection", "[loopback][threads]") {
    constexpr int publishers = 4;
    constexpr int per_publisher = 150;
    constexpr int clients = 24;
    ssehub::hub_config cfg;
    cfg.send_queue = publishers * per_publisher + 8;  // nothing may be dropped in this test
    server s(cfg, 4);
    std::vector<std::unique_ptr<client>> cs;
    for (int i = 0; i < clients; ++i) {
        cs.push_back(std::make_unique<client>());
        // Half subscribe twice (exact and wildcard): still one delivery per event.
        cs.back()->get(s.port(), i % 2 ? "/events?topics=feed.a,feed.*" : "/events?topics=feed.a");
    }
    REQUIRE(wait_active(s, clients));
    for (auto& c : cs) REQUIRE(c->wait_events(1));  // `connected`

    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < publishers; ++p) {
        threads.emplace_back([&, p] {
            for (int i = 0; i < per_publisher; ++i)
                if (s.hub().publish(test::event_on({"feed.a"}, std::to_string(p) + ":" + std::to_string(i)))) ++failures;
        });
    }
    // Readers of the hub's state from other threads meanwhile.
    threads.emplace_back([&] {
        for (int i = 0; i < 50; ++i) (void)s.hub().stats(true, 10);
    });
    for (auto& t : threads) t.join();
    CHECK(failures.load() == 0);

    for (auto& c : cs) {
        REQUIRE(c->wait_events(1 + publishers * per_publisher, 20s));
        std::vector<int> next(publishers, 0);
        std::string last_id;
        for (std::size_t k = 1; k < c->events.size(); ++k) {
            const auto& e = c->events[k];
            const auto colon = e.data.find(':');
            REQUIRE(colon != std::string::npos);
            const int p = std::stoi(e.data.substr(0, colon));
            const int i = std::stoi(e.data.substr(colon + 1));
            REQUIRE(p >= 0);
            REQUIRE(p < publishers);
            CHECK(i == next[static_cast<std::size_t>(p)]);  // each publisher's order kept, nothing twice
            next[static_cast<std::size_t>(p)] = i + 1;
            CHECK(e.id > last_id);  // ids are fixed-width hex: string order is numeric order
            last_id = e.id;
        }
        CHECK(c->events.size() == 1 + publishers * per_publisher);
    }
    const auto st = s.hub().stats(false);
    CHECK(st.events_published == static_cast<std::uint64_t>(publishers * per_publisher));
    CHECK(st.events_dropped == 0);
}

TEST_CASE("threads: the intake bound holds exactly under concurrent publishers", "[threads]") {
    ssehub::hub_config cfg;
    cfg.publish_intake = 40;
    server s(cfg, 2);
    // Hold the hub strand so nothing is drained while the publishers race.
    std::promise<void> entered;
    std::promise<void> release;
    auto released = release.get_future().share();
    asio::post(s.hub().get_executor(), [&entered, released] {
        entered.set_value();
        released.wait();
    });
    entered.get_future().wait();

    std::atomic<int> ok{0};
    std::atomic<int> full{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < 4; ++p) {
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                const auto ec = s.hub().publish(test::event_on({"t"}, "x"));
                if (!ec) ++ok;
                else if (ec == ssehub::error::intake_full) ++full;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(ok.load() == 40);
    CHECK(full.load() == 60);
    CHECK(s.hub().stats(false).events_rejected == 60);
    release.set_value();
    // The 40 held events are routed once the strand is free; then the intake
    // takes events again (once the shard has taken the batch off its backlog,
    // which counts toward the bound too: until then a publish may still be
    // refused).
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).events_published == 40; }));
    REQUIRE(test::poll_until([&] { return !s.hub().publish(test::event_on({"t"}, "after")); }));
    CHECK(test::poll_until([&] { return s.hub().stats(false).events_published == 41; }));
}

TEST_CASE("threads: connections come and go while publishers and pausers run", "[loopback][threads]") {
    ssehub::hub_config cfg;
    cfg.max_connections = 1000;
    server s(cfg, 4);
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
        ssehub::event e = test::event_on({"churn"}, "tick");
        while (!stop.load()) {
            (void)s.hub().publish(e);
            std::this_thread::yield();
        }
    });
    std::thread batcher([&] {
        ssehub::event e = test::event_on({"churn"}, "batched");
        e.lane = ssehub::priority::batched;
        while (!stop.load()) {
            (void)s.hub().publish(e);
            std::this_thread::yield();
        }
    });
    for (int round = 0; round < 40; ++round) {
        client c;
        c.get(s.port(), "/events?topics=churn");
        REQUIRE(c.wait_events(2));  // `connected` and at least one tick
        const std::string id = c.events[0].data.substr(c.events[0].data.find("\":\"") + 3, 32);
        CHECK(s.hub().set_paused(id, true));
        CHECK(s.hub().set_paused(id, false));
        (void)s.hub().stats(true, 5);
        c.close();
    }
    stop = true;
    publisher.join();
    batcher.join();
    REQUIRE(wait_active(s, 0));
    CHECK(s.hub().stats(false).connections_total == 40);
}
