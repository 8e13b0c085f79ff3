// ssehubd's admin routes: presence list and count, the connection list with
// filters, DELETE /connections/{id} and POST /connections/disconnect, with
// the admin key and refused without it. One daemon for the whole case.
#include "admin_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

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
