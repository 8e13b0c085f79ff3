// Loopback integration tests: a real hub on 127.0.0.1:0 and real TCP clients.
#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <malloc.h>

#include <dirent.h>

#include <memory>

using namespace std::chrono_literals;
using test::client;
using test::server;

namespace {

using test::wait_active;

std::size_t open_fds() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d)) ++n;
        ::closedir(d);
    }
    return n;
}

void raise_fd_limit() {
    rlimit r{};
    ::getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
}

}  // namespace

TEST_CASE("stream head, retry and connected event", "[loopback]") {
    server s;
    client c;
    c.get(s.port(), "/events?topics=orders,users.*");
    REQUIRE(c.wait_events(1));
    CHECK(c.status() == 200);
    const std::string head = c.head();
    CHECK(head.find("Content-Type: text/event-stream\r\n") != std::string::npos);
    CHECK(head.find("Cache-Control: no-cache\r\n") != std::string::npos);
    CHECK(head.find("Connection: keep-alive\r\n") != std::string::npos);
    CHECK(head.find("X-Accel-Buffering: no\r\n") != std::string::npos);
    CHECK(c.body().rfind("retry: 3000\n", 0) == 0);
    CHECK(c.parser.retry() == 3000);
    REQUIRE(c.events[0].type == "connected");
    CHECK(c.events[0].id.empty());
    const std::string& data = c.events[0].data;
    CHECK(data.find("\"topics\":[\"orders\",\"users.*\"]") != std::string::npos);
    const auto pos = data.find("\"connection_id\":\"");
    REQUIRE(pos != std::string::npos);
    const std::string id = data.substr(pos + 17, 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("connection ids are random, not sequential", "[loopback]") {
    server s;
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        client c;
        c.get(s.port(), "/events?topics=a");
        REQUIRE(c.wait_events(1));
        REQUIRE(wait_active(s, 1));
        ids.push_back(s.hub().stats().connections.at(0).id);
        c.close();
        REQUIRE(wait_active(s, 0));
    }
    CHECK(ids[0] != ids[1]);
    CHECK(ids[1] != ids[2]);
    // No shared prefix beyond chance: sequential ids would share most digits.
    CHECK(ids[0].substr(0, 8) != ids[1].substr(0, 8));
}

TEST_CASE("bad requests get a 4xx and the connection closes", "[loopback]") {
    ssehub::hub_config cfg;
    cfg.request_head_timeout = 300ms;
    cfg.max_request_head = 1024;
    server s(cfg);
    auto expect = [&](std::string_view raw, int status) {
        client c;
        c.connect(s.port());
        c.send(raw);
        REQUIRE(c.wait_closed());
        CHECK(c.status() == status);
    };
    SECTION("no topics") { expect("GET /events HTTP/1.1\r\nHost: x\r\n\r\n", 400); }
    SECTION("empty topics") { expect("GET /events?topics=,, HTTP/1.1\r\nHost: x\r\n\r\n", 400); }
    SECTION("invalid topic") { expect("GET /events?topics=a..b HTTP/1.1\r\nHost: x\r\n\r\n", 400); }
    SECTION("misplaced >") { expect("GET /events?topics=a.%3E.c HTTP/1.1\r\nHost: x\r\n\r\n", 400); }
    SECTION("wrong method") { expect("POST /events?topics=a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405); }
    SECTION("malformed") { expect("GARBAGE\r\n\r\n", 400); }
    SECTION("bare LF") { expect("GET /events?topics=a HTTP/1.1\nHost: x\n\n", 400); }
    SECTION("oversized head") {
        expect("GET /events?topics=a HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(2000, 'p') + "\r\n\r\n", 431);
    }
    SECTION("slow head times out") { expect("GET /events?topics=a HTTP/1.1\r\nHost: x\r\n", 408); }
    CHECK(s.hub().stats().active_connections == 0);
}

TEST_CASE("no body for a 400 lists the reason", "[loopback]") {
    server s;
    client c;
    c.get(s.port(), "/events");
    REQUIRE(c.wait_closed());
    CHECK(c.status() == 400);
    CHECK(c.body() == "no topics subscribed");
}

TEST_CASE("routing: exact and wildcard topics, each event once", "[loopback]") {
    server s;
    client a, b, all;
    a.get(s.port(), "/events?topics=orders.created,orders.*");
    b.get(s.port(), "/events?topics=users.%3E");
    all.get(s.port(), "/events?topics=%3E");
    REQUIRE(a.wait_events(1));
    REQUIRE(b.wait_events(1));
    REQUIRE(all.wait_events(1));
    REQUIRE(wait_active(s, 3));

    // One event on two topics that both match `a`: delivered to `a` once.
    auto r = s.publish_sync(test::event_on({"orders.created", "users.1.profile"}, "x"));
    CHECK(r.matched == 3);
    r = s.publish_sync(test::event_on({"orders.deleted"}, "y"));
    CHECK(r.matched == 2);
    r = s.publish_sync(test::event_on({"users"}, "z"));  // `users.>` needs one more token
    CHECK(r.matched == 1);
    r = s.publish_sync(test::event_on({"Orders.created"}, "case"));  // case-sensitive
    CHECK(r.matched == 1);
    s.publish_sync(test::event_on({"end"}, "end"));  // only `>`

    REQUIRE(all.wait_events(6));
    REQUIRE(a.wait_events(3));
    REQUIRE(b.wait_events(2));
    CHECK(a.events[1].data == "x");
    CHECK(a.events[2].data == "y");
    CHECK(b.events[1].data == "x");
    // Nothing more arrives for a or b: `all` already saw the later events.
    a.read_until([] { return false; }, 50ms);
    CHECK(a.events.size() == 3);
    CHECK(b.events.size() == 2);
    CHECK(!all.events[1].id.empty());
    CHECK(all.events[1].id < all.events[2].id);  // sortable ids
}

TEST_CASE("publish validation", "[loopback]") {
    server s;
    auto& h = s.hub();
    CHECK(h.publish(test::event_on({"a.*"}, "x")) == ssehub::error::invalid_topic);  // event topics are literal
    CHECK(h.publish(test::event_on({"a..b"}, "x")) == ssehub::error::invalid_topic);
    CHECK(h.publish(test::event_on({}, "x")) == ssehub::error::no_target);
    auto bad = test::event_on({"a"}, "x", "evil\nid: 1");
    CHECK(h.publish(bad) == ssehub::error::invalid_event_field);
    auto badid = test::event_on({"a"}, "x");
    badid.id = std::string("1\0", 2);
    CHECK(h.publish(badid) == ssehub::error::invalid_event_field);
    CHECK(!h.publish(test::event_on({"a"}, "fine")));
}

TEST_CASE("groups keep tenants apart", "[loopback]") {
    ssehub::hub_config cfg;
    cfg.on_connect = [](const ssehub::http::request& req, ssehub::connection& c) -> std::optional<ssehub::rejection> {
        auto tenant = req.query_param("tenant");
        if (!tenant) return ssehub::rejection{401, "unauthorized"};
        c.set_metadata("tenant_id", *tenant);
        c.set_topics({"orders"});
        return std::nullopt;
    };
    server s(cfg);
    client t1, t2, anon;
    t1.get(s.port(), "/events?tenant=t1");
    t2.get(s.port(), "/events?tenant=t2");
    anon.get(s.port(), "/events");
    REQUIRE(anon.wait_closed());
    CHECK(anon.status() == 401);
    REQUIRE(t1.wait_events(1));
    REQUIRE(t2.wait_events(1));
    REQUIRE(wait_active(s, 2));

    auto e = test::event_on({"orders"}, "for t1");
    e.group = {{"tenant_id", "t1"}};
    CHECK(s.publish_sync(e).matched == 1);
    ssehub::event group_only;
    group_only.group = {{"tenant_id", "t2"}};
    group_only.data = "for t2";
    CHECK(s.publish_sync(group_only).matched == 1);
    auto missing = test::event_on({"orders"}, "nobody");
    missing.group = {{"region", ""}};  // a missing key never matches, even an empty value
    CHECK(s.publish_sync(missing).matched == 0);
    CHECK(s.publish_sync(test::event_on({"orders"}, "everyone")).matched == 2);

    REQUIRE(t1.wait_events(3));
    REQUIRE(t2.wait_events(3));
    CHECK(t1.events[1].data == "for t1");
    CHECK(t1.events[2].data == "everyone");
    CHECK(t2.events[1].data == "for t2");
    CHECK(t2.events[2].data == "everyone");
}

TEST_CASE("a client that disconnects is unregistered at once", "[loopback]") {
    ssehub::hub_config cfg;
    cfg.heartbeat_interval = std::chrono::hours(1);  // no write will reveal the disconnect
    std::atomic<int> disconnects{0};
    cfg.on_disconnect = [&](const ssehub::connection&) { ++disconnects; };
    server s(cfg);
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_events(1));
    REQUIRE(wait_active(s, 1));
    c.close();
    REQUIRE(wait_active(s, 0));
    CHECK(disconnects == 1);
}

TEST_CASE("heartbeat comment after the idle interval", "[loopback]") {
    ssehub::hub_config cfg;
    cfg.heartbeat_interval = 100ms;
    server s(cfg);
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.read_until([&] { return c.parser.comment_count() >= 2; }));
    CHECK(c.events.size() == 1);  // heartbeats are comments, not events
    CHECK(c.parser.last_event_id().empty());  // and never carry an id
}

TEST_CASE("max lifetime ends the response", "[loopback]") {
    ssehub::hub_config cfg;
    cfg.max_lifetime = 200ms;
    server s(cfg);
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_events(1));
    REQUIRE(c.wait_closed());
    REQUIRE(wait_active(s, 0));
}

TEST_CASE("a client that never reads does not delay the others", "[loopback]") {
    ssehub::hub_config cfg;
    cfg.write_timeout = 1h;  // keep the stuck client around for the whole test
    server s(cfg);
    client stuck, normal;
    stuck.get(s.port(), "/events?topics=feed");  // never read from again
    normal.get(s.port(), "/events?topics=feed");
    REQUIRE(normal.wait_events(1));
    REQUIRE(wait_active(s, 2));
    const std::string payload(1000, 'x');
    constexpr int total = 10000;
    for (int i = 0; i < total; i += 100) {
        for (int k = i; k < i + 100; ++k) REQUIRE(!s.hub().publish(test::event_on({"feed"}, std::to_string(k) + payload)));
        REQUIRE(normal.wait_events(static_cast<std::size_t>(i + 100 + 1)));
    }
    for (int k = 0; k < total; ++k) {
        const auto& d = normal.events[static_cast<std::size_t>(k + 1)].data;
        REQUIRE(d.substr(0, d.size() - payload.size()) == std::to_string(k));
    }
    const auto st = s.hub().stats();
    std::uint64_t stuck_dropped = 0, normal_dropped = 0;
    for (const auto& c : st.connections) (c.sent < total / 2 ? stuck_dropped : normal_dropped) += c.dropped;
    CHECK(normal_dropped == 0);
    CHECK(stuck_dropped > 0);  // its queue filled: its events were dropped, nobody else's
    CHECK(st.events_dropped == stuck_dropped);
}

TEST_CASE("a stuck client is dropped after the write timeout", "[loopback]") {
    ssehub::hub_config cfg;
    cfg.write_timeout = 300ms;
    server s(cfg);
    client stuck;
    stuck.get(s.port(), "/events?topics=feed");
    REQUIRE(wait_active(s, 1));
    const std::string payload(64 * 1024, 'x');
    // 12.8 MB: more than the socket buffers hold, so a write stays pending past the timeout.
    for (int i = 0; i < 200; ++i) REQUIRE(!s.hub().publish(test::event_on({"feed"}, payload)));
    REQUIRE(wait_active(s, 0));
}

TEST_CASE("1000 concurrent connections receive one publish", "[loopback]") {
    raise_fd_limit();
    ssehub::hub_config cfg;
    cfg.max_connections = 2000;
    server s(cfg);
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 1000; ++i) {
        clients.push_back(std::make_unique<client>());
        clients.back()->get(s.port(), "/events?topics=news");
    }
    REQUIRE(wait_active(s, 1000));
    CHECK(s.publish_sync(test::event_on({"news"}, "hello all")).matched == 1000);
    for (auto& c : clients) {
        REQUIRE(c->wait_events(2));
        CHECK(c->events[1].data == "hello all");
    }
}

TEST_CASE("connect/disconnect cycles return to baseline", "[loopback]") {
    server s;
    auto cycle = [&] {
        client c;
        c.get(s.port(), "/events?topics=a.b,c.*");
        REQUIRE(c.wait_events(1));
        c.close();
    };
    for (int i = 0; i < 50; ++i) cycle();  // warm up pools and caches
    REQUIRE(wait_active(s, 0));
    const std::size_t fds = open_fds();
    const auto mem = mallinfo2().uordblks;
    for (int i = 0; i < 1000; ++i) cycle();
    REQUIRE(wait_active(s, 0));
    CHECK(s.hub().stats().connections_total == 1050);
    CHECK(open_fds() == fds);
    const auto after = mallinfo2().uordblks;
    CHECK(after < mem + 256 * 1024);  // no per-connection leak (1000 leaked connections would be far more)
}

TEST_CASE("shutdown ends every stream after queued events", "[loopback]") {
    server s;
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_events(1));
    REQUIRE(wait_active(s, 1));
    s.hub().publish(test::event_on({"a"}, "last words"));
    s.stop();
    REQUIRE(c.wait_closed());
    REQUIRE(c.events.size() == 3);
    CHECK(c.events[1].data == "last words");
    CHECK(c.events[2].type == "server-shutdown");
    CHECK(c.events[2].data == R"({"reason":"shutdown"})");
}

TEST_CASE("drain: new streams get 503 with Retry-After; shutdown twice is harmless; publish fails fast", "[loopback]") {
    server s;
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_events(1));
    REQUIRE(wait_active(s, 1));
    // A slow shutdown: the client keeps its stream until the grace period ends,
    // so the hub is draining while a newcomer arrives.
    auto first = asio::co_spawn(s.context(), s.hub().async_shutdown(10s), asio::use_future);
    REQUIRE(c.wait_events(2));  // server-shutdown arrived: the hub is draining
    CHECK(c.events[1].type == "server-shutdown");
    CHECK(s.hub().publish(test::event_on({"a"}, "late")) == ssehub::error::hub_stopped);
    client late;
    late.get(s.port(), "/events?topics=a");
    REQUIRE(late.wait_closed());
    CHECK(late.status() == 503);
    CHECK(late.head().find("Retry-After: 3\r\n") != std::string::npos);
    auto second = asio::co_spawn(s.context(), s.hub().async_shutdown(10s), asio::use_future);
    REQUIRE(c.wait_closed());
    REQUIRE(first.wait_for(10s) == std::future_status::ready);
    REQUIRE(second.wait_for(10s) == std::future_status::ready);
    first.get();
    second.get();
    CHECK(c.events.size() == 2);  // one server-shutdown, not two
}

TEST_CASE("stats: delivered events, latency histogram, topic counts", "[loopback]") {
    server s;
    client a, b;
    a.get(s.port(), "/events?topics=x,y");
    b.get(s.port(), "/events?topics=x");
    REQUIRE(a.wait_events(1));
    REQUIRE(b.wait_events(1));
    REQUIRE(wait_active(s, 2));
    for (int i = 0; i < 10; ++i) s.hub().publish(test::event_on({"x"}, "e"));
    REQUIRE(a.wait_events(11));
    REQUIRE(b.wait_events(11));
    REQUIRE(test::poll_until([&] { return s.hub().stats().events_delivered == 20; }));
    const auto st = s.hub().stats(false, 10);
    CHECK(st.connections.empty());
    std::uint64_t observed = 0;
    for (auto n : st.latency_counts) observed += n;
    CHECK(observed == 20);
    REQUIRE(st.topic_connections.size() == 2);
    CHECK(st.topic_connections[0] == std::pair<std::string, std::size_t>{"x", 2});
    CHECK(st.topic_connections[1] == std::pair<std::string, std::size_t>{"y", 1});
    CHECK(s.hub().stats(false, 1).topic_connections.size() == 1);
}

TEST_CASE("direct writes: each event once and in order, also past a full socket buffer", "[loopback]") {
    ssehub::hub_config cfg;
    cfg.single_thread_contexts = true;  // server runs its io_context on one thread
    cfg.write_timeout = 1h;
    server s(cfg);
    client slow, fast;
    slow.get(s.port(), "/events?topics=feed");
    fast.get(s.port(), "/events?topics=feed");
    REQUIRE(slow.wait_events(1));
    REQUIRE(fast.wait_events(1));
    REQUIRE(wait_active(s, 2));
    // `slow` reads nothing until all are published: 200 × 60 KB is more than
    // the loopback socket buffers take, so writes stop part-way through a
    // frame and its rest goes through the writer, with the frames behind it.
    const std::string payload(60000, 'x');
    constexpr int total = 200;
    for (int k = 0; k < total; ++k) {
        REQUIRE(!s.hub().publish(test::event_on({"feed"}, std::to_string(k) + payload)));
        if (k % 8 == 7) REQUIRE(fast.wait_events(static_cast<std::size_t>(k + 2)));
    }
    REQUIRE(fast.wait_events(total + 1));
    REQUIRE(slow.wait_events(total + 1));
    for (auto* c : {&slow, &fast}) {
        for (int k = 0; k < total; ++k) REQUIRE(c->events[static_cast<std::size_t>(k + 1)].data == std::to_string(k) + payload);
    }
    REQUIRE(test::poll_until([&] { return s.hub().stats().events_delivered == 2 * total; }));
    CHECK(s.hub().stats().events_dropped == 0);
}
