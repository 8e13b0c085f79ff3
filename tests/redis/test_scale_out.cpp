// Two real ssehubd nodes on one real redis-server (each test starts its own):
// exactly-once delivery across nodes, replay on another node after a node
// dies, a Redis restart under connected clients, tickets shared by nodes,
// cluster-wide presence and admin disconnects.
#include "admin_client.hpp"
#include "daemon_process.hpp"
#include "mercure_client.hpp"
#include "node_helpers.hpp"
#include "redis_server.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <regex>
#include <set>
#include <string>

namespace {

using namespace std::chrono_literals;
using daemon_test::daemon_process;
using daemon_test::get;
using daemon_test::post;
using daemon_test::subscriber;
using redis_test::data_until_end;
using redis_test::metric;
using redis_test::publish;
using redis_test::ready;

std::vector<std::string> node_args(const redis_test::redis_server& r, std::string node,
                                   std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"--redis", r.url(), "--node-id", std::move(node), "--no-demo", "--redis-ready",
                               "--heartbeat-ms", "200"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

}  // namespace

TEST_CASE("two nodes on one Redis: published on A, a client on B receives it exactly once", "[redis][scale_out]") {
    redis_test::redis_server redis;
    daemon_process a(node_args(redis, "A"));
    daemon_process b(node_args(redis, "B"));
    REQUIRE(test::poll_until([&] { return ready(a.port()) && ready(b.port()); }, 20s));

    subscriber on_b(b.port(), "/events?topics=orders");
    subscriber on_a(a.port(), "/events?topics=orders");
    REQUIRE(on_b.connected());
    REQUIRE(on_a.connected());
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(publish(a.port(), "{\"topics\":[\"orders\"],\"data\":\"" + std::to_string(i) + "\"}"));
    publish(a.port(), R"({"topics":["orders"],"data":"end"})");
    const std::vector<std::string> want{"0", "1", "2", "3", "4", "end"};
    CHECK(data_until_end(on_b) == want);  // a duplicate would come before "end": order is kept
    CHECK(data_until_end(on_a) == want);
    CHECK(on_b.c.events[1].id == ids[0]);  // the same id on every node
    CHECK(on_a.c.events[1].id == ids[0]);
    CHECK(metric(b.port(), "ssehubd_fanout_messages_total{node=\"B\",result=\"published\"}") == 6);

    // A caller's id is kept on every node; a client resumes from it on the other node.
    const auto own = post(a.port(), "/publish", R"({"topics":["orders"],"id":"order-7","data":"7"})");
    REQUIRE(own.status == 202);
    CHECK(own.body.find("\"id\":\"order-7\"") != std::string::npos);
    CHECK(data_until_end(on_b, "7").back() == "7");
    CHECK(on_b.c.events.back().id == "order-7");
    publish(a.port(), R"({"topics":["orders"],"data":"after"})");
    subscriber resumed(b.port(), "/events?topics=orders", "Last-Event-ID: order-7\r\n");
    REQUIRE(resumed.connected());
    CHECK(data_until_end(resumed, "after") == std::vector<std::string>{"after"});
    CHECK(post(a.port(), "/publish", R"([{"topics":["orders"],"id":")" + std::string(257, 'x') + R"("}])").status == 400);
}

TEST_CASE("node A dies, the client reconnects to node B with Last-Event-ID and gets exactly what it missed",
          "[redis][scale_out]") {
    redis_test::redis_server redis;
    auto a = std::make_unique<daemon_process>(node_args(redis, "A"));
    daemon_process b(node_args(redis, "B"));
    REQUIRE(test::poll_until([&] { return ready(a->port()) && ready(b.port()); }, 20s));

    std::string x;
    {
        subscriber s(a->port(), "/events?topics=orders.*");
        REQUIRE(s.connected());
        x = publish(b.port(), R"({"topics":["orders.eu"],"data":"X"})");
        auto got = s.wait_for("message");
        REQUIRE(got);
        CHECK(got->id == x);
        a->signal(SIGKILL);
        REQUIRE(a->wait_exit(20s));
    }
    a.reset();
    publish(b.port(), R"({"topics":["orders.eu"],"data":"m1"})");
    publish(b.port(), R"({"topics":["invoices"],"data":"not subscribed"})");
    publish(b.port(), R"({"topics":["orders.us"],"data":"m2","group":{"tenant_id":"t2"}})");  // another tenant's
    publish(b.port(), R"({"topics":["orders.us"],"data":"m3"})");

    subscriber again(b.port(), "/events?topics=orders.*", "Last-Event-ID: " + x + "\r\n");
    REQUIRE(again.connected());
    publish(b.port(), R"({"topics":["orders.eu"],"data":"end"})");
    CHECK(data_until_end(again) == std::vector<std::string>{"m1", "m3", "end"});
    // m1 and m3 came from the Stream; "end" too when it was appended before the
    // replay read the Stream (the live copy is then dropped as a duplicate).
    const auto replayed = metric(b.port(), "ssehub_events_replayed_total");
    CHECK((replayed == 2 || replayed == 3));
}

TEST_CASE("Redis restarts under connected clients: nodes back off, keep serving, resume fan-out",
          "[redis][scale_out]") {
    redis_test::redis_server redis;
    daemon_process a(node_args(redis, "A"));
    daemon_process b(node_args(redis, "B"));
    REQUIRE(test::poll_until([&] { return ready(a.port()) && ready(b.port()); }, 20s));
    subscriber s(b.port(), "/events?topics=orders");
    REQUIRE(s.connected());

    const auto down_at = std::chrono::steady_clock::now();
    redis.stop();
    REQUIRE(test::poll_until([&] { return !ready(a.port()) && !ready(b.port()); }, 20s));
    CHECK(post(a.port(), "/publish", R"({"topics":["orders"],"data":"lost"})").status == 503);
    // Retrying, with backoff: at least 3 reconnects, no more than the schedule
    // (100 ms × 2^k, ≤ 2 s, −20 % jitter) allows in the time it took.
    const std::string reconnects = "ssehubd_fanout_reconnects_total{node=\"B\"}";
    REQUIRE(test::poll_until([&] { return metric(b.port(), reconnects) >= 3; }, 20s));
    const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - down_at).count();
    double t = 0;
    std::uint64_t allowed = 1;  // the first retry may start at once after the drop
    for (int k = 0; t <= elapsed; ++k) {
        t += std::min(100.0 * std::pow(2.0, k), 2000.0) * 0.8;
        ++allowed;
    }
    CHECK(metric(b.port(), reconnects) <= allowed);
    // Still serving: the stream stays open (heartbeats), new clients connect, health is fine.
    const auto seen = s.c.raw.size();
    CHECK(s.c.read_until([&] { return s.c.raw.find(": ping", seen) != std::string::npos; }, 20s));
    CHECK_FALSE(s.c.eof());
    subscriber fresh(b.port(), "/events?topics=orders");
    CHECK(fresh.connected());
    CHECK(get(b.port(), "/healthz").status == 200);
    CHECK(get(a.port(), "/presence/count?topic=orders").status == 503);  // cluster-wide presence needs Redis

    REQUIRE(redis.start());
    REQUIRE(test::poll_until([&] { return ready(a.port()) && ready(b.port()); }, 30s));
    // The publisher reconnects on demand: within its backoff a publish still gets 503 (+ Retry-After).
    REQUIRE(test::poll_until(
        [&] { return post(a.port(), "/publish", R"({"topics":["orders"],"data":"end"})").status == 202; }, 30s));
    CHECK(data_until_end(s) == std::vector<std::string>{"end"});
    CHECK(data_until_end(fresh) == std::vector<std::string>{"end"});
    // The restarted Redis lost the presence entries: node B writes its own again.
    REQUIRE(test::poll_until(
        [&] { return daemon_test::body_json(get(a.port(), "/presence/count?topic=orders"))["count"] == 2; }, 30s));
}

TEST_CASE("a ticket issued on node A works once on node B and never again anywhere", "[redis][scale_out]") {
    redis_test::redis_server redis;
    const std::vector<std::string> extra{"--auth", "tickets", "--publisher-key", "k"};
    daemon_process a(node_args(redis, "A", extra));
    daemon_process b(node_args(redis, "B", extra));
    REQUIRE(test::poll_until([&] { return ready(a.port()) && ready(b.port()); }, 20s));
    const auto issued = post(a.port(), "/tickets", R"({"topics":["orders"],"metadata":{"tenant_id":"t1"}})",
                             "X-Publisher-Key: k\r\n");
    REQUIRE(issued.status == 201);
    std::smatch m;
    REQUIRE(std::regex_search(issued.body, m, std::regex("\"ticket\":\"([A-Za-z0-9_-]+)\"")));
    const std::string target = "/events?ticket=" + std::string(m[1]);

    subscriber first(b.port(), target);
    CHECK(first.connected());
    CHECK(get(b.port(), target).status == 401);
    CHECK(get(a.port(), target).status == 401);
}

TEST_CASE("two nodes on one Redis: presence and admin disconnects are cluster-wide; a killed node's entries expire",
          "[redis][scale_out][admin]") {
    using json = nlohmann::json;
    using daemon_test::body_json;
    using daemon_test::request;
    redis_test::redis_server redis;
    // Short refresh and TTL: the killed node's entries go within 300 ms.
    const std::vector<std::string> extra{"--auth", "tickets", "--publisher-key", "pk", "--presence-refresh-ms", "50",
                                         "--presence-ttl-ms", "300", "--admin-reply-timeout-ms", "500"};
    daemon_process a(node_args(redis, "A", extra));
    auto b = std::make_unique<daemon_process>(node_args(redis, "B", extra));
    REQUIRE(test::poll_until([&] { return ready(a.port()) && ready(b->port()); }, 20s));
    const auto pa = a.port();
    const auto pb = b->port();
    const std::string key = "X-Publisher-Key: pk\r\n";
    auto count = [&](unsigned short port, const std::string& query) {
        return body_json(get(port, "/presence/count?" + query, key))["count"];
    };

    auto a1 = daemon_test::subscribe(pa, "chat", "alice", "t1");
    auto b1 = daemon_test::subscribe(pb, "chat", "alice", "t1");
    auto b2 = daemon_test::subscribe(pb, "chat", "bob", "t2");
    auto b3 = daemon_test::subscribe(pb, "news", "carol", "t1");

    // Node A sees node B's subscribers (and B sees A's), paged by id, with their node.
    REQUIRE(test::poll_until([&] { return count(pa, "topic=chat") == 3 && count(pb, "topic=chat") == 3; }, 20s));
    CHECK(count(pa, "topic=chat&user=alice") == 2);
    CHECK(body_json(get(pa, "/presence?topic=chat", key))["nodes"] == 2);
    std::set<std::string> ids;
    for (const auto& e : daemon_test::read_paged(pa, "/presence?topic=chat", key, 3)) {
        ids.insert(e["id"].get<std::string>());
        CHECK(e["node"] == (e["id"] == a1->connection_id ? "A" : "B"));
    }
    CHECK(ids == std::set<std::string>{a1->connection_id, b1->connection_id, b2->connection_id});

    // A's /admin dashboard shows every node with its streams.
    subscriber dash(pa, "/admin/events", key);
    REQUIRE(dash.connected());
    const auto nodes = dash.wait_for("stats");
    REQUIRE(nodes);
    const auto engine = json::parse(nodes->data)["engine"];
    CHECK(engine["kind"] == "redis");
    CHECK(engine["up"] == true);
    REQUIRE(engine["nodes"].size() == 2);
    CHECK(engine["nodes"][0]["node"] == "A");
    CHECK(engine["nodes"][0]["connections"] == 1);
    CHECK(engine["nodes"][1]["node"] == "B");
    CHECK(engine["nodes"][1]["connections"] == 3);
    CHECK(engine["nodes"][1]["expires_ms"].get<std::int64_t>() > 1700000000000);

    auto t1 = body_json(get(pa, "/connections?tenant=t1&topic=news", key));
    REQUIRE(t1["entries"].size() == 1);
    CHECK(t1["entries"][0]["id"] == b3->connection_id);
    CHECK(t1["entries"][0]["metadata"] == json({{"sub", "carol"}, {"tenant_id", "t1"}}));
    CHECK(body_json(get(pa, "/connections?tenant=t1", key))["total"] == 3);

    // DELETE on A ends a stream held by B: the reason event, then EOF.
    CHECK(request(pa, "DELETE", "/connections/" + std::string(32, '0'), {}, key).status == 404);
    CHECK(request(pa, "DELETE", "/connections/" + b3->connection_id + "?reason=maintenance", {}, key).status == 200);
    daemon_test::check_ended(*b3, "maintenance");

    // Every stream of a user, on both nodes, from A.
    auto n = body_json(post(pa, "/connections/disconnect", R"({"user":"alice","reason":"banned"})", key));
    CHECK(n["disconnected"] == 2);
    CHECK(n["nodes"] == 2);
    CHECK(n["answered"] == 2);
    for (auto* s : {a1.get(), b1.get()}) daemon_test::check_ended(*s, "banned");
    CHECK(!b2->c.eof());
    REQUIRE(test::poll_until([&] { return count(pa, "topic=chat") == 1 && count(pa, "topic=news") == 0; }, 20s));

    // A third subscriber of the admin channel that never answers: the
    // answer says so (nodes 3, answered 2) after --admin-reply-timeout-ms.
    asio::io_context io;
    asio::ip::tcp::socket silent(io);
    silent.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), redis.port()));
    asio::write(silent, asio::buffer(std::string_view("SUBSCRIBE ssehub:admin\r\n")));
    char confirm[64];
    REQUIRE(silent.read_some(asio::buffer(confirm)) > 0);  // "*3 subscribe ssehub:admin 1": subscribed
    auto partial = body_json(post(pa, "/connections/disconnect", R"({"user":"nobody"})", key));
    CHECK(partial["disconnected"] == 0);
    CHECK(partial["nodes"] == 3);
    CHECK(partial["answered"] == 2);
    CHECK(request(pa, "DELETE", "/connections/" + std::string(32, '0'), {}, key).status == 504);
    // Found: answered as soon as B said so, without waiting for the silent one.
    CHECK(request(pa, "DELETE", "/connections/" + b2->connection_id + "?reason=x", {}, key).status == 200);
    daemon_test::check_ended(*b2, "x");
    auto b4 = daemon_test::subscribe(pb, "chat", "dave", "t2");
    REQUIRE(test::poll_until([&] { return count(pa, "topic=chat") == 1; }, 20s));

    // A node that stops cleanly (SIGTERM) takes its entries with it at once
    // (its TTL here is a minute: only its own delete explains their going).
    {
        daemon_process c(
            node_args(redis, "C", {"--auth", "tickets", "--publisher-key", "pk", "--presence-ttl-ms", "60000"}));
        REQUIRE(test::poll_until([&] { return ready(c.port()); }, 20s));
        auto c1 = daemon_test::subscribe(c.port(), "chat", "erin", "t3");
        REQUIRE(test::poll_until([&] { return count(pa, "topic=chat") == 2; }, 20s));
        c.signal(SIGTERM);
        REQUIRE(c.wait_exit(20s) == 0);
        CHECK(count(pa, "topic=chat") == 1);
    }

    // B is killed: its entries (dave's stream) vanish from A's view once their TTL ends.
    b->signal(SIGKILL);
    REQUIRE(b->wait_exit(20s));
    b.reset();
    REQUIRE(test::poll_until([&] { return count(pa, "topic=chat") == 0; }, 20s));
    CHECK(body_json(get(pa, "/connections", key))["nodes"] == 1);
}

#ifdef SSEHUBD_TEST_MERCURE
TEST_CASE("two nodes on one Redis speak Mercure: B routes and delivers what A publishes, replays it from the Stream; "
          "subscriptions are cluster-wide",
          "[redis][scale_out][mercure]") {
    using namespace daemon_test;
    redis_test::redis_server redis;
    auto args = [&](std::string node) {
        auto m = mercure_args();
        m.push_back("--mercure-subscriptions");
        return node_args(redis, std::move(node), m);
    };
    daemon_process a(args("A"));
    daemon_process b(args("B"));
    REQUIRE(test::poll_until([&] { return ready(a.port()) && ready(b.port()); }, 20s));

    // Subscription events on A, of subscribers on B.
    const std::string api_selector = "/.well-known/mercure/subscriptions{/topic}{/subscriber}";
    const std::string admin = ssehub::sign_hs256(header_jwt, R"({"mercure":{"subscribe":[")" + api_selector + R"("]}})", sub_key);
    const std::string auth = "Authorization: Bearer " + admin + "\r\n";
    mercure_subscriber watcher(a.port(), "topic=" + url_encode(api_selector), auth);
    REQUIRE(watcher.s.connected());

    // Only B's subscribers use the template: A's router never evaluates it.
    const std::string books = "topic=" + url_encode("https://t.test/books/{id}");
    mercure_subscriber public_only(b.port(), books);
    mercure_subscriber reader(b.port(), books, "Authorization: Bearer " + subscriber_token("https://t.test/books/1") + "\r\n");
    REQUIRE(public_only.s.connected());
    REQUIRE(reader.s.connected());
    auto heard = [&](const std::string& id) {
        for (int i = 0; i < 6; ++i) {
            auto e = watcher.next();
            if (!e) return false;
            const auto j = nlohmann::json::parse(e->data);
            if (j.value("subscriber", "") == id && j.value("active", false)) return true;
        }
        return false;
    };
    CHECK(heard(public_only.s.connection_id));
    CHECK(heard(reader.s.connection_id));

    const auto r1 = mercure_post(a.port(), {{"topic", "https://t.test/books/1"}, {"data", "public"}});
    const auto r2 = mercure_post(a.port(), {{"topic", "https://t.test/books/1"}, {"data", "secret"}, {"private", "on"}});
    const auto r3 = mercure_post(a.port(), {{"topic", "https://t.test/authors/1"}, {"data", "elsewhere"}});
    const auto r4 = mercure_post(a.port(), {{"topic", "https://t.test/books/2"}, {"data", "last"}});
    for (const auto* r : {&r1, &r2, &r3, &r4}) {
        REQUIRE(r->status == 200);
        CHECK(std::regex_match(r->body, std::regex("[0-9]+-[0-9]+")));  // the Stream's id (none given), the same on every node
    }
    CHECK(public_only.next_id() == r1.body);
    CHECK(public_only.next_id() == r4.body);  // not the private one, not authors/1
    CHECK(reader.next_id() == r1.body);
    CHECK(reader.next_id() == r2.body);  // its token matches books/1
    CHECK(reader.next_id() == r4.body);
    // A caller's id: echoed, delivered with it on B, and resumable there.
    const auto mine = mercure_post(a.port(), {{"topic", "https://t.test/books/1"}, {"id", "book-1-v2"}});
    REQUIRE(mine.status == 200);
    CHECK(mine.body == "book-1-v2");
    CHECK(public_only.next_id() == "book-1-v2");
    const auto r5 = mercure_post(a.port(), {{"topic", "https://t.test/books/3"}});
    REQUIRE(r5.status == 200);
    mercure_subscriber resumed(b.port(), books + "&lastEventID=book-1-v2");
    CHECK(resumed.next_id() == r5.body);

    // Replayed on B from the Redis Stream, routed there: after r1, the
    // private r2 only with the token, never authors/1.
    mercure_subscriber late(b.port(), books + "&lastEventID=" + r1.body);
    CHECK(late.next_id() == r4.body);
    mercure_subscriber late_reader(b.port(), books + "&lastEventID=" + r1.body,
                                   "Authorization: Bearer " + subscriber_token("https://t.test/books/1") + "\r\n");
    CHECK(late_reader.next_id() == r2.body);
    CHECK(late_reader.next_id() == r4.body);

    // The subscriptions API on A lists B's subscribers (once B's presence
    // entries reached Redis: written in batches).
    CHECK(test::poll_until(
        [&] {
            const auto all = get(a.port(), "/.well-known/mercure/subscriptions", auth);
            if (all.status != 200) return false;
            const auto listed = nlohmann::json::parse(all.body);
            std::set<std::string> subscribers;
            for (const auto& s : listed["subscriptions"]) subscribers.insert(s["subscriber"].get<std::string>());
            for (const auto* s : {&public_only, &reader, &late, &late_reader})
                if (!subscribers.count(s->s.connection_id)) return false;
            return true;
        },
        20s));
}
#endif
