// ssehubd's admin routes: presence list and count, the connection list with
// filters, DELETE /connections/{id} and POST /connections/disconnect, with
// the admin key and refused without it. One daemon for the whole case.
#include "admin_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <ssehub/base64.hpp>

#include <set>

using namespace daemon_test;
using json = nlohmann::json;

TEST_CASE("ssehubd: presence and admin routes with the admin key", "[daemon][admin]") {
    daemon_process d({"--auth", "tickets", "--publisher-key", "pk", "--admin-key", "ak", "--threads", "2",
                      "--max-presence-page", "2"});
    const auto p = d.port();
    const std::string key = "X-Publisher-Key: ak\r\n";  // the admin key

    auto a1 = subscribe(p, "chat", "alice", "t1");
    auto a2 = subscribe(p, "chat", "alice", "t1");
    auto b = subscribe(p, "chat", "bob", "t2");
    auto c = subscribe(p, "news", "carol", "t1");

    // Refused without the admin key (one is configured), and wrong methods.
    CHECK(get(p, "/presence?topic=chat").status == 401);
    CHECK(get(p, "/presence/count?topic=chat", "X-Publisher-Key: wrong\r\n").status == 401);
    CHECK(get(p, "/connections").status == 401);
    CHECK(get(p, "/connections", "X-Publisher-Key: pk\r\n").status == 401);  // the publisher key is not the admin key
    CHECK(request(p, "DELETE", "/connections/" + b->connection_id).status == 401);
    CHECK(post(p, "/connections/disconnect", R"({"user":"bob"})").status == 401);
    CHECK(post(p, "/presence?topic=chat", "", key).status == 405);
    CHECK(get(p, "/presence", key).status == 400);  // topic required
    CHECK(get(p, "/presence?topic=a..b", key).status == 400);
    CHECK(get(p, "/presence?topic=chat&limit=x", key).status == 400);

    // Count and list, paged.
    CHECK(body_json(get(p, "/presence/count?topic=chat", key))["count"] == 3);
    CHECK(body_json(get(p, "/presence/count?topic=chat&user=alice", key))["count"] == 2);
    // A larger limit is capped at --max-presence-page (2).
    auto capped = body_json(get(p, "/presence?topic=chat&limit=100", key));
    CHECK(capped["total"] == 3);
    CHECK(capped["entries"].size() == 2);
    CHECK(capped["next"].is_string());
    std::set<std::string> ids;
    for (const auto& e : read_paged(p, "/presence?topic=chat", key, 3)) {
        ids.insert(e["id"].get<std::string>());
        CHECK(e["connected_at"].get<std::int64_t>() > 1700000000);
        CHECK(e["topics"] == json::array({"chat"}));
    }
    CHECK(ids == std::set<std::string>{a1->connection_id, a2->connection_id, b->connection_id});
    auto bob_entry = body_json(get(p, "/presence?topic=chat&user=bob", key))["entries"];
    REQUIRE(bob_entry.size() == 1);
    CHECK(bob_entry[0]["metadata"] == json({{"sub", "bob"}, {"tenant_id", "t2"}}));

    // The connection list with filters.
    CHECK(body_json(get(p, "/connections", key))["total"] == 4);
    CHECK(body_json(get(p, "/connections?tenant=t1", key))["total"] == 3);
    CHECK(body_json(get(p, "/connections?tenant=t1&topic=news", key))["entries"][0]["id"] == c->connection_id);

    // Disconnect one by id: the reason event, then EOF.
    CHECK(request(p, "DELETE", "/connections/" + std::string(32, '0'), {}, key).status == 404);
    CHECK(request(p, "DELETE", "/connections/" + c->connection_id + "?reason=maintenance", {}, key).status == 200);
    check_ended(*c, "maintenance");

    // Disconnect every stream of a user.
    CHECK(post(p, "/connections/disconnect", "{}", key).status == 400);  // nobody named
    CHECK(post(p, "/connections/disconnect", R"({"user":"alice","extra":1})", key).status == 400);
    auto n = body_json(post(p, "/connections/disconnect", R"({"user":"alice","reason":"banned"})", key));
    CHECK(n["disconnected"] == 2);
    for (auto* s : {a1.get(), a2.get()}) check_ended(*s, "banned");
    CHECK(test::poll_until([&] { return body_json(get(p, "/presence/count?topic=chat", key))["count"] == 1; }));
    CHECK(!b->c.eof());
}

TEST_CASE("ssehubd: without any key the admin routes answer loopback clients only; --presence-events",
          "[daemon][admin]") {
    daemon_process d({"--presence-events"});
    subscriber watcher(d.port(), "/events?topics=%24presence.x");
    REQUIRE(watcher.connected());
    subscriber s(d.port(), "/events?topics=x");
    REQUIRE(s.connected());
    auto join = watcher.wait_for("join");
    REQUIRE(join);
    CHECK(json::parse(join->data)["id"] == s.connection_id);
    // The test client is on 127.0.0.1: allowed.
    CHECK(body_json(get(d.port(), "/presence/count?topic=x"))["count"] == 1);
}

TEST_CASE("ssehubd: the /admin dashboard and its live stream, behind the admin key", "[daemon][admin]") {
    daemon_process d({"--auth", "tickets", "--publisher-key", "pk", "--admin-key", "ak", "--admin-feed-interval-ms",
                      "100", "--admin-max-streams", "1", "--admin-top", "1"});
    const auto p = d.port();
    const std::string basic = "Authorization: Basic " + ssehub::base64url::encode("admin:ak") + "\r\n";  // no +/ here
    const std::string wrong = "Authorization: Basic " + ssehub::base64url::encode("admin:nope") + "\r\n";

    // The page: a browser's Basic challenge without the key, HTML with it.
    auto refused = get(p, "/admin");
    CHECK(refused.status == 401);
    CHECK(refused.header("WWW-Authenticate").starts_with("Basic realm=\"ssehubd admin\""));
    CHECK(get(p, "/admin", wrong).status == 401);
    CHECK(get(p, "/admin", "X-Publisher-Key: pk\r\n").status == 401);  // the publisher key is not the admin key
    CHECK(post(p, "/admin", "").status == 405);
    auto page = get(p, "/admin", basic);
    CHECK(page.status == 200);
    CHECK(page.header("Content-Type") == "text/html; charset=utf-8");
    CHECK(page.header("X-Frame-Options") == "DENY");
    CHECK(page.header("Content-Security-Policy").find("frame-ancestors 'none'") != std::string::npos);
    CHECK(page.body.find("new EventSource('/admin/events')") != std::string::npos);
    CHECK(get(p, "/admin", "X-Publisher-Key: ak\r\n").status == 200);
    // The page's own requests carry the same login.
    CHECK(get(p, "/connections", basic).status == 200);
    CHECK(get(p, "/connections", wrong).status == 401);
    CHECK(get(p, "/admin/events", wrong).status == 401);  // not streamed

    auto a = subscribe(p, "orders", "alice", "t1");
    auto b = subscribe(p, "orders", "bob", "t1");
    auto c = subscribe(p, "news", "carol", "t2");

    // /stats now counts tenants and the replay buffer (the memory replayer says its size).
    auto stats = body_json(get(p, "/stats"));
    CHECK(stats["tenants"] == json::parse(R"([{"tenant":"t1","connections":2},{"tenant":"t2","connections":1}])"));
    CHECK(stats["replay"]["events"].is_number());

    // The live stream: snapshots of the watched hub (the dashboard itself is
    // not one of its connections), the largest topic and tenant (--admin-top 1).
    subscriber dash(p, "/admin/events?topics=orders", basic);
    REQUIRE(dash.connected());
    CHECK(dash.c.events[0].data.find("\"topics\":[\"admin.stats\"]") != std::string::npos);  // ?topics= is ignored
    auto latest = [&] {
        for (auto it = dash.c.events.rbegin(); it != dash.c.events.rend(); ++it)
            if (it->type == "stats") return json::parse(it->data);
        return json();
    };
    REQUIRE(dash.wait_for("stats"));
    auto s = latest();
    CHECK(s["connections"]["active"] == 3);
    CHECK(s["topics"] == json::parse(R"([{"topic":"orders","connections":2}])"));
    CHECK(s["tenants"] == json::parse(R"([{"tenant":"t1","connections":2}])"));
    CHECK(s["engine"]["kind"] == "none");
    CHECK(s["dashboards"] == 1);
    CHECK(s["at_ms"].get<std::int64_t>() > 1700000000000);

    // A second dashboard is over --admin-max-streams 1.
    CHECK(get(p, "/admin/events", basic).status == 503);

    // What happens shows up in a later snapshot: a publish and its deliveries,
    // a disconnect.
    auto pub = post(p, "/publish", R"({"topics":["orders"],"type":"x","data":"1"})", "X-Publisher-Key: pk\r\n");
    REQUIRE(pub.status == 202);
    CHECK(request(p, "DELETE", "/connections/" + c->connection_id, {}, basic).status == 200);
    dash.c.read_until(
        [&] {
            auto now = latest();
            return now["events"]["delivered"] == 2 && now["connections"]["active"] == 2;
        },
        20s);
    s = latest();
    CHECK(s["events"]["published"] == 1);
    CHECK(s["events"]["delivered"] == 2);
    CHECK(s["connections"]["active"] == 2);
    CHECK(s["tenants"] == json::parse(R"([{"tenant":"t1","connections":2}])"));
    CHECK(!a->c.eof());
    CHECK(!b->c.eof());
}
