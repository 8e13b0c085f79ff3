// The hub under threads, for the TSan build (and run in every suite): a hub
// on a multi-threaded io_context with publishers on foreign threads,
// connections cancelled from foreign threads, stats read from anywhere, and
// shutdown while publishers are still publishing. TSan reports fail the run
// (-fno-sanitize-recover); the assertions check that nothing is lost,
// duplicated or reordered on the connections that stay.
#include "support/harness.hpp"

#include <ssehub/error.hpp>

#include <catch2/catch.hpp>

#include <asio.hpp>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

ssehub::event numbered(const std::string& topic, int publisher, int n) {
    ssehub::event e;
    e.topics = {topic};
    e.data = std::to_string(publisher) + ":" + std::to_string(n);
    return e;
}

// Every event of each publisher arrived once and in that publisher's order.
bool in_order_once(const std::vector<ssehub::parsed_event>& events, int publishers, int per_publisher) {
    std::vector<int> next(static_cast<std::size_t>(publishers), 0);
    for (const auto& e : events) {
        if (e.type != "message") continue;
        const auto colon = e.data.find(':');
        if (colon == std::string::npos) return false;
        const int p = std::stoi(e.data.substr(0, colon));
        const int n = std::stoi(e.data.substr(colon + 1));
        if (p < 0 || p >= publishers || n != next[static_cast<std::size_t>(p)]) return false;
        ++next[static_cast<std::size_t>(p)];
    }
    for (int n : next)
        if (n != per_publisher) return false;
    return true;
}

}  // namespace

// Guards a bug this test found (README, "Hardening"): async_serve cancelled by
// its caller completed but never unregistered the connection (the cleanup
// co_awaits threw operation_aborted under the cancelled state).
TEST_CASE("threads: connections cancelled from foreign threads end and unregister while publishers run",
          "[threads]") {
    constexpr int clients = 16;
    constexpr int publishers = 3;
    constexpr int per_publisher = 200;
    ssehub::hub_config cfg;
    cfg.send_queue = publishers * per_publisher + 8;  // nothing may be dropped for the clients that stay
    test::server s(cfg, 4);

    std::vector<std::unique_ptr<test::client>> cs;
    for (int i = 0; i < clients; ++i) {
        cs.push_back(std::make_unique<test::client>());
        cs.back()->get(s.port(), "/events?topics=t");
        REQUIRE(cs.back()->wait_events(1));  // connected
    }
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).active_connections == clients; }));
    REQUIRE(s.accepted() == clients);

    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int p = 0; p < publishers; ++p)
        threads.emplace_back([&, p] {
            while (!go.load()) std::this_thread::yield();
            for (int n = 0; n < per_publisher; ++n) {
                while (s.hub().publish(numbered("t", p, n)) == make_error_code(ssehub::error::intake_full))
                    std::this_thread::yield();
            }
        });
    // Two foreign threads cancel the odd connections while the events flow.
    for (int k = 0; k < 2; ++k)
        threads.emplace_back([&, k] {
            while (!go.load()) std::this_thread::yield();
            for (std::size_t i = 1 + 2 * static_cast<std::size_t>(k); i < clients; i += 4) s.cancel(i);
        });
    // And one reads stats until the cancelled serves have completed.
    threads.emplace_back([&] {
        const auto deadline = test::clock::now() + 20s;
        while (s.finished() < clients / 2 && test::clock::now() < deadline) (void)s.hub().stats(true, 8);
    });
    go = true;
    for (auto& t : threads) t.join();

    CHECK(test::poll_until([&] { return s.finished() == clients / 2; }, 20s));
    for (int i = 0; i < clients; i += 2) {
        auto& c = *cs[static_cast<std::size_t>(i)];
        CHECK(c.wait_events(1 + publishers * per_publisher, 20s));
        CHECK(in_order_once(c.events, publishers, per_publisher));
        CHECK(!c.eof());
    }
    // (Events routed to a cancelled stream before its removal are dropped: not checked.)
    CHECK(s.hub().stats(false).events_published == publishers * per_publisher);
    // The cancelled ones are closed and unregistered.
    const bool unregistered =
        test::poll_until([&] { return s.hub().stats(false).active_connections == clients / 2; }, 5s);
    CHECK(unregistered);
    if (unregistered)  // else each wait would only time out
        for (int i = 1; i < clients; i += 2) CHECK(cs[static_cast<std::size_t>(i)]->wait_closed(5s));
    s.stop();
}

namespace {

// Connects `clients` streams, starts four publisher threads (publish() on
// two, async_publish waiting for each completion on the other two, or
// async_publish on all four when `saturate` is false: then the intake
// empties between events), shuts the hub down from this thread once 200
// events went through, and checks what every client saw.
void shutdown_while_publishing(bool saturate) {
    constexpr int clients = 24;
    constexpr int publishers = 4;
    ssehub::hub_config cfg;
    cfg.send_queue = 4096;
    test::server s(cfg, 4);
    std::vector<std::unique_ptr<test::client>> cs;
    for (int i = 0; i < clients; ++i) {
        cs.push_back(std::make_unique<test::client>());
        cs.back()->get(s.port(), "/events?topics=t");
        REQUIRE(cs.back()->wait_events(1));
    }
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).active_connections == clients; }));

    std::atomic<bool> go{false}, give_up{false};
    std::atomic<int> saw_stopped{0};
    std::vector<std::thread> pubs;
    for (int p = 0; p < publishers; ++p)
        pubs.emplace_back([&, p] {
            while (!go.load()) std::this_thread::yield();
            for (int n = 0; !give_up.load();) {
                std::error_code ec;
                if (saturate && p % 2 == 0) {
                    ec = s.hub().publish(numbered("t", p, n));
                } else {  // async_publish with a completion, from a foreign thread
                    // Shared: a publisher that gives up must not leave the completion a dangling promise.
                    auto done = std::make_shared<std::promise<std::error_code>>();
                    auto result = done->get_future();
                    s.hub().async_publish(numbered("t", p, n),
                                          [done](std::error_code e, ssehub::publish_result) { done->set_value(e); });
                    while (result.wait_for(100ms) != std::future_status::ready)
                        if (give_up.load()) return;
                    ec = result.get();
                }
                if (ec == make_error_code(ssehub::error::hub_stopped)) {
                    ++saw_stopped;
                    return;
                }
                if (!ec) ++n;
                else if (ec != make_error_code(ssehub::error::intake_full)) return;
            }
        });
    go = true;
    // Let some events through, then shut down from this (foreign) thread.
    const bool flowing = test::poll_until([&] { return s.hub().stats(false).events_published >= 200; }, 20s);
    auto done = asio::co_spawn(s.context(), s.hub().async_shutdown(3s), asio::use_future);
    const bool shut_down = done.wait_for(10s) == std::future_status::ready;  // 3 s grace + slack
    // After a shutdown each publisher's next publish answers hub_stopped; only
    // a hung shutdown makes them give up (so that it does not hang them too).
    if (!shut_down) give_up = true;
    for (auto& t : pubs) t.join();
    REQUIRE(flowing);
    CHECK(shut_down);
    if (!shut_down) return;  // s.stop() finishes the shutdown now that nobody publishes
    done.get();
    CHECK(saw_stopped.load() == publishers);
    CHECK(s.hub().publish(numbered("t", 0, -1)) == make_error_code(ssehub::error::hub_stopped));
    CHECK(s.hub().stats(false).active_connections == 0);
    for (auto& c : cs) {
        REQUIRE(c->wait_closed(10s));
        // Each publisher's events arrived in order without duplicates (a full
        // queue may drop some: the clients do not read until the end), then
        // server-shutdown.
        std::vector<int> next(publishers, 0);
        bool ordered = true;
        for (const auto& e : c->events) {
            if (e.type != "message") continue;
            const auto colon = e.data.find(':');
            const int p = std::stoi(e.data.substr(0, colon));
            const int n = std::stoi(e.data.substr(colon + 1));
            ordered = ordered && n >= next[static_cast<std::size_t>(p)];
            next[static_cast<std::size_t>(p)] = n + 1;
        }
        CHECK(ordered);
        REQUIRE(!c->events.empty());
        // The clients read only now: with saturating publishers their queues
        // can hold more than the sockets take within the 3 s grace, and the
        // hub then closes them before server-shutdown is written.
        if (!saturate) CHECK(c->events.back().type == "server-shutdown");
    }
    s.stop();
}

}  // namespace

TEST_CASE("threads: shutdown while four threads publish (each waiting for its event to be routed)", "[threads]") {
    shutdown_while_publishing(false);
}

// Publishers that keep the intake full must not starve the hub strand: the
// run loop goes to the back of the strand's queue between intake batches.
TEST_CASE("threads: shutdown while publishers saturate the intake completes", "[threads]") {
    shutdown_while_publishing(true);
}

TEST_CASE("threads: clients connect and leave on many threads while events and stats flow", "[threads]") {
    constexpr int workers = 4;
    constexpr int rounds = 15;
    test::server s({}, 3);
    std::atomic<bool> stop{false};
    // Each publish waits until routed, so that events flow at the pace of routing.
    std::thread publisher([&] {
        for (int n = 0; !stop.load(); ++n) {
            std::promise<void> routed;
            auto f = routed.get_future();
            s.hub().async_publish(numbered("churn", 0, n), [&routed](std::error_code, ssehub::publish_result) {
                routed.set_value();
            });
            f.wait();
        }
    });
    std::thread stats([&] {
        while (!stop.load()) (void)s.hub().stats(true, 4);
    });
    std::atomic<int> connected{0};
    std::vector<std::thread> ws;
    for (int w = 0; w < workers; ++w)
        ws.emplace_back([&] {
            for (int r = 0; r < rounds; ++r) {
                test::client c;
                c.get(s.port(), "/events?topics=churn");
                if (c.wait_events(2, 10s)) ++connected;  // connected + at least one event
                c.close();
            }
        });
    for (auto& t : ws) t.join();
    stop = true;
    publisher.join();
    stats.join();
    CHECK(connected.load() == workers * rounds);
    CHECK(test::poll_until([&] { return s.hub().stats(false).active_connections == 0; }));
    CHECK(s.hub().stats(false).connections_total == workers * rounds);
    s.stop();
}
