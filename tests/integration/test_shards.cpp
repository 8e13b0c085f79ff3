// A hub with several shards: connections spread over them, every publish
// reaches all of them in one order with one id, and what spans the hub
// (replay, pollers, max_connections, stats, pause, shutdown) spans every shard.
// Runs in the TSan build.
#include "support/harness.hpp"

#include <ssehub/poller.hpp>
#include "support/memory_stream.hpp"

#include <ssehub/replayer.hpp>

#include <asio/detached.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using test::client;
using test::server;

namespace {

using test::connection_id;
using test::wait_active;

ssehub::hub_config sharded(std::size_t n) {
    ssehub::hub_config cfg;
    cfg.shards = n;
    return cfg;
}

// A replayer defined only here: the awaitable path (live events held while it answers).
struct slow_replayer {
    std::shared_ptr<ssehub::memory_replayer> inner = std::make_shared<ssehub::memory_replayer>();
    asio::awaitable<void> async_store(ssehub::stored_event e) {
        inner->store(std::move(e));
        co_return;
    }
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& p,
                                                        const ssehub::metadata& m, std::size_t max) {
        asio::steady_timer t(co_await asio::this_coro::executor, 15ms);
        co_await t.async_wait(asio::use_awaitable);
        co_return inner->replay(last_id, p, m, max);
    }
};

}  // namespace

TEST_CASE("shards: every event once and in order on every shard, one id per event", "[loopback][shards]") {
    constexpr int publishers = 3;
    constexpr int per_publisher = 120;
    constexpr int clients = 12;
    auto cfg = sharded(3);
    cfg.send_queue = publishers * per_publisher + 8;  // nothing may be dropped here
    server s(cfg, 3);
    REQUIRE(s.hub().shard_count() == 3);
    std::vector<std::unique_ptr<client>> cs;
    for (int i = 0; i < clients; ++i) {
        cs.push_back(std::make_unique<client>());
        cs.back()->get(s.port(), i % 2 ? "/events?topics=feed.a,feed.*" : "/events?topics=feed.a");
    }
    REQUIRE(wait_active(s.hub(), clients));
    for (auto& c : cs) REQUIRE(c->wait_events(1));

    // async_publish counts the connections of every shard.
    const auto r = s.publish_sync(test::event_on({"feed.a"}, "first"));
    CHECK(r.matched == clients);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < publishers; ++p)
        threads.emplace_back([&, p] {
            for (int i = 0; i < per_publisher; ++i)
                if (s.hub().publish(test::event_on({"feed.a"}, std::to_string(p) + ":" + std::to_string(i)))) ++failures;
        });
    for (auto& t : threads) t.join();
    CHECK(failures.load() == 0);

    std::vector<std::string> order;  // the first client's (data, id) sequence: everyone must match it
    for (std::size_t n = 0; n < cs.size(); ++n) {
        auto& c = *cs[n];
        REQUIRE(c.wait_events(2 + publishers * per_publisher, 20s));
        REQUIRE(c.events.size() == 2 + publishers * per_publisher);
        CHECK(c.events[1].data == "first");
        CHECK(c.events[1].id == r.id);
        std::vector<int> next(publishers, 0);
        std::vector<std::string> mine;
        std::string last_id;
        for (std::size_t k = 2; k < c.events.size(); ++k) {
            const auto& e = c.events[k];
            const auto colon = e.data.find(':');
            REQUIRE(colon != std::string::npos);
            const auto p = static_cast<std::size_t>(std::stoi(e.data.substr(0, colon)));
            REQUIRE(p < publishers);
            CHECK(std::stoi(e.data.substr(colon + 1)) == next[p]);
            ++next[p];
            CHECK(e.id > last_id);
            last_id = e.id;
            mine.push_back(e.data + "@" + e.id);
        }
        if (n == 0) order = mine;
        else CHECK(mine == order);  // one order and the same ids on every shard
    }
    CHECK(s.hub().stats(false).events_published == 1 + publishers * per_publisher);
    // Counted just after the write returns: the clients may have read it first.
    CHECK(test::poll_until(
        [&] { return s.hub().stats(false).events_delivered == clients * (1 + publishers * per_publisher); }));
}

TEST_CASE("shards: Last-Event-ID replays exactly what was missed, whichever shard the reconnect lands on",
          "[loopback][shards][replay]") {
    const bool awaitable = GENERATE(false, true);
    auto cfg = sharded(3);
    if (awaitable) cfg.replayer = slow_replayer{};
    else cfg.replayer = ssehub::memory_replayer();
    server s(cfg, 2);
    auto stop = std::make_shared<std::atomic<bool>>(false);
    auto publisher = [](ssehub::hub& h, std::shared_ptr<std::atomic<bool>> stop) -> asio::awaitable<void> {
        asio::steady_timer pace(co_await asio::this_coro::executor);
        for (int n = 0; !*stop; ++n) {
            ssehub::event e;  // (not test::event_on({...}): g++ 12 rejects brace-init lists inside co_await)
            e.topics.push_back("feed");
            e.data = std::to_string(n);
            co_await h.async_publish(std::move(e));
            pace.expires_after(5ms);
            co_await pace.async_wait(asio::use_awaitable);
        }
    };
    auto done = asio::co_spawn(s.context(), publisher(s.hub(), stop), asio::use_future);
    // Connections go round-robin: every shard serves reconnects.
    const auto rounds = test::reconnect_rounds(s.port(), "/events?topics=feed", 7, 8);
    REQUIRE(rounds);
    const auto& seen = *rounds;
    *stop = true;
    REQUIRE(done.wait_for(10s) == std::future_status::ready);
    const int first = std::stoi(seen.front());
    for (std::size_t i = 0; i < seen.size(); ++i) REQUIRE(seen[i] == std::to_string(first + static_cast<int>(i)));
}

TEST_CASE("shards: a reconnect is not sent again what a lagging shard routes after registering it",
          "[loopback][shards][replay]") {
    // The client has X from shard 1 and reconnects with Last-Event-ID X to
    // shard 0, which has not routed X yet (its strand is held by an
    // on_disconnect). Shard 0 registers the new stream first, then routes X:
    // X is held for after the replay, and must not be delivered, since the
    // client sent its id.
    auto cfg = sharded(2);
    cfg.replayer = ssehub::memory_replayer();
    auto entered = std::make_shared<std::atomic<bool>>(false);
    auto reconnect_seen = std::make_shared<std::atomic<bool>>(false);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    cfg.on_disconnect = [entered, released](const ssehub::connection& c) {
        if (c.topics().front() != "blocker") return;
        *entered = true;
        released.wait();  // holds shard 0's strand (there is a second thread)
    };
    cfg.on_connect = [reconnect_seen](const ssehub::http::request& req,
                                      ssehub::connection& c) -> std::optional<ssehub::rejection> {
        // (With on_connect the request's topics are this callback's to set.)
        c.set_topics({req.target.find("blocker") == std::string::npos ? "feed" : "blocker"});
        if (req.find("Last-Event-ID")) *reconnect_seen = true;
        return std::nullopt;
    };
    server s(cfg, 2);
    client blocker;  // shard 0
    blocker.get(s.port(), "/events?topics=blocker");
    REQUIRE(blocker.wait_events(1));
    client first;  // shard 1
    first.get(s.port(), "/events?topics=feed");
    REQUIRE(first.wait_events(1));
    blocker.close();
    REQUIRE(test::poll_until([&] { return entered->load(); }));
    REQUIRE(!s.hub().publish(test::event_on({"feed"}, "x")));
    REQUIRE(first.wait_events(2));  // shard 1 routed it; shard 0 has it in its intake
    CHECK(first.events[1].data == "x");
    client second;  // shard 0: registered before it routes "x"
    second.get(s.port(), "/events?topics=feed", "Last-Event-ID: " + first.events[1].id + "\r\n");
    REQUIRE(test::poll_until([&] { return reconnect_seen->load(); }));
    release.set_value();
    REQUIRE(wait_active(s.hub(), 2));
    REQUIRE(!s.hub().publish(test::event_on({"feed"}, "y")));
    REQUIRE(second.wait_events(2));
    REQUIRE(!s.hub().publish(test::event_on({"feed"}, "z")));  // after anything the replay queued
    REQUIRE(second.read_until([&] { return second.events.back().data == "z"; }));
    std::vector<std::string> got;
    for (std::size_t i = 1; i < second.events.size(); ++i) got.push_back(second.events[i].data);
    CHECK(got == std::vector<std::string>{"y", "z"});
}

TEST_CASE("shards: a poller runs while any shard has a subscriber; a late one gets the latest value",
          "[loopback][shards][poller]") {
    server s(sharded(2), 2);
    ssehub::pollers polls(s.hub(), s.context().get_executor());
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto stopped = std::make_shared<std::atomic<int>>(0);
    ssehub::poller_options o;
    o.interval = 20ms;
    o.on_stop = [stopped](ssehub::poller_stop_reason why) {
        if (why == ssehub::poller_stop_reason::no_subscribers) ++*stopped;
    };
    REQUIRE(!polls.attach(
        "prices",
        [calls](const ssehub::poll_context&) -> asio::awaitable<ssehub::poll_result> {
            ++*calls;
            co_return ssehub::poll_result::ok("{\"p\":1}");
        },
        o));
    // Shard 0 gets an unrelated connection, so the subscriber lands on shard 1.
    client other;
    other.get(s.port(), "/events?topics=unrelated");
    REQUIRE(other.wait_events(1));
    client a;
    a.get(s.port(), "/events?topics=prices");
    REQUIRE(a.wait_events(2));  // connected, then the first poll
    CHECK(a.events[1].data == "{\"p\":1}");
    client b;  // shard 0, while the poller runs: the latest value at once
    b.get(s.port(), "/events?topics=prices");
    REQUIRE(b.wait_events(2));
    CHECK(b.events[1].data == "{\"p\":1}");
    CHECK(other.events.size() == 1);
    a.close();
    b.close();
    REQUIRE(test::poll_until([&] { return stopped->load() == 1; }));
    const int after = calls->load();
    REQUIRE(wait_active(s.hub(), 1));
    // Stopped means stopped: one more subscriber elsewhere restarts it.
    client c;
    c.get(s.port(), "/events?topics=prices");
    REQUIRE(c.wait_events(2));
    CHECK(calls->load() > after);
}

TEST_CASE("shards: max_connections, stats, pause and shutdown span every shard", "[loopback][shards]") {
    auto cfg = sharded(3);
    cfg.max_connections = 4;
    auto paused = std::make_shared<std::atomic<int>>(0);
    cfg.on_pause = [paused](const ssehub::connection&) { ++*paused; };
    server s(cfg, 3);
    std::vector<std::unique_ptr<client>> cs;
    for (int i = 0; i < 6; ++i) {
        cs.push_back(std::make_unique<client>());
        cs.back()->get(s.port(), "/events?topics=t");
        REQUIRE(cs.back()->read_until([&] { return cs.back()->head_done(); }));
    }
    int ok = 0, refused = 0;
    for (auto& c : cs) {
        if (c->status() == 200) ++ok;
        if (c->status() == 503) ++refused;
    }
    CHECK(ok == 4);
    CHECK(refused == 2);
    CHECK(s.hub().stats(true).active_connections == 4);
    CHECK(s.hub().stats(true).connections.size() == 4);
    for (auto& c : cs) {
        if (c->status() != 200) continue;
        REQUIRE(c->wait_events(1));
        CHECK(s.hub().set_paused(connection_id(*c), true));  // found on whichever shard holds it
    }
    CHECK(!s.hub().set_paused("no-such-connection", true));
    REQUIRE(test::poll_until([&] { return paused->load() == 4; }));
    CHECK(s.hub().stats(false).paused_connections == 4);
    s.stop();
    for (auto& c : cs) {
        if (c->status() != 200) continue;
        REQUIRE(c->wait_closed());
        CHECK(c->events.back().type == "server-shutdown");
    }
}

TEST_CASE("shards: one io_context per shard; a stream runs on the shard of its own loop", "[loopback][shards]") {
    asio::io_context loop0(1), loop1(1);
    auto guard0 = asio::make_work_guard(loop0);
    auto guard1 = asio::make_work_guard(loop1);
    std::vector<std::thread> threads;
    threads.emplace_back([&] { loop0.run(); });
    threads.emplace_back([&] { loop1.run(); });
    std::mutex m;
    std::map<std::string, int> pause_loop;  // connection id → loop that ran on_pause
    ssehub::hub_config cfg;
    cfg.on_pause = [&](const ssehub::connection& c) {
        const int which = loop1.get_executor().running_in_this_thread() ? 1
                          : loop0.get_executor().running_in_this_thread() ? 0
                                                                           : -1;
        std::lock_guard l(m);
        pause_loop[c.id()] = which;
    };
    std::optional<ssehub::hub> h;
    h.emplace(std::vector<asio::any_io_executor>{loop0.get_executor(), loop1.get_executor()}, cfg);
    REQUIRE(h->shard_count() == 2);
    asio::ip::tcp::acceptor acceptor(loop0, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = acceptor.local_endpoint().port();
    // The first connection is accepted onto loop1, the second onto loop0.
    auto accept_two = [&]() -> asio::awaitable<void> {
        for (asio::io_context* loop : {&loop1, &loop0}) {
            auto sock = co_await acceptor.async_accept(*loop, asio::use_awaitable);
            auto ex = sock.get_executor();
            asio::co_spawn(ex, h->async_serve(std::move(sock)), asio::detached);
        }
    };
    asio::co_spawn(loop0, accept_two(), asio::detached);
    client on1, on0;
    on1.get(port, "/events?topics=t");
    REQUIRE(on1.wait_events(1));
    on0.get(port, "/events?topics=t");
    REQUIRE(on0.wait_events(1));
    REQUIRE(wait_active(*h, 2));
    REQUIRE(h->set_paused(connection_id(on1), true));
    REQUIRE(h->set_paused(connection_id(on0), true));
    REQUIRE(test::poll_until([&] {
        std::lock_guard l(m);
        return pause_loop.size() == 2;
    }));
    {
        std::lock_guard l(m);
        CHECK(pause_loop[connection_id(on1)] == 1);
        CHECK(pause_loop[connection_id(on0)] == 0);
    }
    REQUIRE(!h->publish(test::event_on({"t"}, "both")));
    REQUIRE(on1.wait_events(2));
    REQUIRE(on0.wait_events(2));
    CHECK(on1.events[1].id == on0.events[1].id);
    auto done = asio::co_spawn(loop0, h->async_shutdown(2s), asio::use_future);
    REQUIRE(done.wait_for(10s) == std::future_status::ready);
    REQUIRE(on1.wait_closed());
    REQUIRE(on0.wait_closed());
    guard0.reset();
    guard1.reset();
    loop0.stop();
    loop1.stop();
    for (auto& t : threads) t.join();
    h.reset();
}

TEST_CASE("write batching: under load each connection writes a window's events together, none lost",
          "[shards][batching]") {
    // In-memory streams count the writes; a publisher paced at ~1 event/ms
    // is "load" once batch_above_deliveries is 0.
    asio::io_context io(1);
    auto guard = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    test::write_counter out;
    ssehub::hub_config cfg;
    cfg.batch_delay = 50ms;
    cfg.batch_above_deliveries = 0;
    cfg.send_queue = 1024;
    cfg.heartbeat_interval = 1h;
    std::optional<ssehub::hub> h;
    h.emplace(io.get_executor(), cfg);
    constexpr std::size_t conns = 20;
    constexpr std::size_t events = 1000;
    for (std::size_t i = 0; i < conns; ++i) {
        ssehub::http::request req;
        req.method = "GET";
        req.target = "/events?topics=load";
        asio::co_spawn(io, h->async_serve(test::memory_stream(io, out), std::move(req)), asio::detached);
    }
    REQUIRE(wait_active(*h, conns));
    REQUIRE(test::poll_until([&] { return out.writes.load() == conns; }));  // the heads
    for (std::size_t i = 0; i < events; ++i) {
        REQUIRE(!h->publish(test::event_on({"load"}, std::to_string(i))));
        std::this_thread::sleep_for(1ms);  // pacing the load, not waiting for anything
    }
    REQUIRE(test::poll_until([&] { return h->stats(false).events_delivered == conns * events; }));
    const auto s = h->stats(false);
    CHECK(s.events_dropped == 0);
    const std::uint64_t writes = out.writes.load() - conns;
    INFO("writes for " << conns * events << " deliveries: " << writes);
    CHECK(writes <= conns * events / 4);  // one write per event without batching (on an idle machine)
    auto done = asio::co_spawn(io, h->async_shutdown(1s), asio::use_future);
    REQUIRE(done.wait_for(10s) == std::future_status::ready);
    guard.reset();
    io.stop();
    runner.join();
    h.reset();
}
