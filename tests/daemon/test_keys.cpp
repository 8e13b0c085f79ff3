// Scoped publisher keys (topics, tenants, JWT publish claims), the admin key,
// and the limits per client: streams per IP address and publishes per second
// per key. One daemon per test case; every wait polls with a deadline.
#include "daemon_process.hpp"
#include "replies.hpp"

#include <ssehub/jwt.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <memory>

using namespace daemon_test;
using json = nlohmann::json;

namespace {

std::string key_header(std::string_view key) { return "X-Publisher-Key: " + std::string(key) + "\r\n"; }

std::string publish_body(const json& topics, std::string_view type, const json& group = nullptr) {
    json j{{"topics", topics}, {"type", type}, {"data", "x"}};
    if (!group.is_null()) j["group"] = group;
    return j.dump();
}

bool has_sample(const std::string& metrics, const std::string& sample) {
    return metrics.find("\n" + sample + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("ssehubd: scoped publisher keys: topics, tenants, tickets, JWT publish claims, admin key", "[daemon][keys]") {
    std::vector<std::string> args{"--auth", "tickets", "--publisher-key", "pk-unscoped",
                                  "--publisher-key-scoped", "orders:orders-key-1:orders.>,users.*",
                                  "--publisher-key-scoped", "acme:acme-key-1:shop.>:acme,acme2",
                                  "--admin-key", "admin-key-1", "--publish-rate", "0.001", "--publish-burst", "30"};
    if (ssehub::hs256_available) args.push_back("--publisher-jwt");
    // A second scoped key through the variable (several would be separated by spaces).
    daemon_process d(args, {"SSEHUBD_JWT_SECRET=" + jwt_secret, "SSEHUBD_PUBLISHER_KEY_SCOPED=spare:spare-key-1:x.>"});
    const auto p = d.port();
    const auto pk = key_header("pk-unscoped");
    const auto orders = key_header("orders-key-1");
    const auto acme = key_header("acme-key-1");
    int refused = 0;

    // Tickets: a scoped key issues them only for topics (and tenants) it covers.
    auto t_out = post(p, "/tickets", R"({"topics":["orders.eu","other"]})", orders);
    CHECK(t_out.status == 403);
    CHECK(body_json(t_out)["error"].get<std::string>().starts_with("topics[1]: outside the scope of publisher key 'orders'"));
    ++refused;
    CHECK(post(p, "/tickets", R"({"topics":["orders.>"]})", orders).status == 201);
    CHECK(post(p, "/tickets", R"({"topics":["shop.a"],"metadata":{"tenant_id":"other"}})", acme).status == 403);
    ++refused;
    auto issued = post(p, "/tickets", R"({"topics":["orders.eu","other","shop.a","jwt.a"],"metadata":{"tenant_id":"acme"}})", pk);
    REQUIRE(issued.status == 201);
    subscriber s(p, "/events?ticket=" + body_json(issued)["ticket"].get<std::string>());
    REQUIRE(s.connected());

    // No key, a wrong key: 401 (keys are configured, publishing is closed).
    CHECK(post(p, "/publish", publish_body({"orders.eu"}, "a")).status == 401);
    CHECK(post(p, "/publish", publish_body({"orders.eu"}, "a"), key_header("orders-key-2")).status == 401);

    // In scope: published. Partly out of scope: 403, and nothing of it is published.
    CHECK(post(p, "/publish", publish_body({"orders.eu"}, "in-scope"), orders).status == 202);
    auto partly = post(p, "/publish", publish_body({"orders.eu", "other"}, "out-of-scope"), orders);
    CHECK(partly.status == 403);
    const auto pj = body_json(partly);
    CHECK(pj["field"] == "topics");
    CHECK(pj["error"] == "topics[1]: outside the scope of publisher key 'orders' (topics: orders.>, users.*); nothing "
                         "was published");
    ++refused;
    CHECK(post(p, "/publish", publish_body({"orders.eu"}, "a"), key_header("spare-key-1")).status == 403);
    ++refused;
    CHECK(post(p, "/publish", publish_body({"x.y"}, "a"), key_header("spare-key-1")).status == 202);
    // The unscoped key publishes anywhere.
    CHECK(post(p, "/publish", publish_body({"other"}, "unscoped"), pk).status == 202);

    // Tenants: the event must be scoped to one of the key's tenants.
    auto no_tenant = post(p, "/publish", publish_body({"shop.a"}, "t"), acme);
    CHECK(no_tenant.status == 403);
    CHECK(body_json(no_tenant)["field"] == "group.tenant_id");
    CHECK(post(p, "/publish", publish_body({"shop.a"}, "t", {{"tenant_id", "evil"}}), acme).status == 403);
    refused += 2;
    CHECK(post(p, "/publish", publish_body({"shop.a"}, "tenant-event", {{"tenant_id", "acme"}}), acme).status == 202);
    // The kill-polling routes' `tenant` is the same group.
    CHECK(post(p, "/publish/invalidate", R"({"tenant":"acme","resource":"shop.a","action":"updated"})", acme).status ==
          202);
    CHECK(post(p, "/publish/invalidate", R"({"resource":"shop.items","action":"updated"})", acme).status == 403);
    ++refused;

    if (ssehub::hs256_available) {
        const std::string h = R"({"alg":"HS256","typ":"JWT"})";
        const auto jwt = [&](const std::string& payload) {
            return "Authorization: Bearer " + ssehub::sign_hs256(h, payload, jwt_secret) + "\r\n";
        };
        CHECK(post(p, "/publish", publish_body({"jwt.a"}, "by-jwt"), jwt(R"({"sub":"svc1","publish":["jwt.>"]})")).status ==
              202);
        CHECK(post(p, "/publish", publish_body({"orders.eu"}, "a"), jwt(R"({"sub":"svc1","publish":"jwt.>"})")).status == 403);
        ++refused;
        // No publish claim (a subscriber's token), a forged one: 401.
        CHECK(post(p, "/publish", publish_body({"jwt.a"}, "a"), jwt(R"({"sub":"u1","topics":["jwt.>"]})")).status == 401);
        CHECK(post(p, "/publish", publish_body({"jwt.a"}, "a"),
                   "Authorization: Bearer " + ssehub::sign_hs256(h, R"({"publish":["jwt.>"]})", "another-secret-0123456789") +
                       "\r\n")
                  .status == 401);
        // A tenant_id claim limits the token to that tenant.
        const auto tenant_jwt = jwt(R"({"sub":"svc2","tenant_id":"acme","publish":["jwt.>"]})");
        CHECK(post(p, "/publish", publish_body({"jwt.a"}, "a"), tenant_jwt).status == 403);
        ++refused;
        CHECK(post(p, "/publish", publish_body({"jwt.a"}, "by-tenant-jwt", {{"tenant_id", "acme"}}), tenant_jwt).status ==
              202);
    }

    // What the subscriber got: every accepted event, none of the refused ones.
    CHECK(post(p, "/publish", publish_body({"other"}, "marker"), pk).status == 202);
    REQUIRE(s.wait_for("marker"));
    std::vector<std::string> types;
    for (const auto& e : s.c.events)
        if (e.type != "connected") types.push_back(e.type);
    std::vector<std::string> want{"in-scope", "unscoped", "tenant-event", "invalidate"};
    if (ssehub::hs256_available) want.insert(want.end(), {"by-jwt", "by-tenant-jwt"});
    want.push_back("marker");
    CHECK(types == want);

    // Admin routes: the admin key; the publisher keys are not admin keys once one is set.
    CHECK(get(p, "/stats?connections=1", key_header("admin-key-1")).status == 200);
    CHECK(get(p, "/stats?connections=1", pk).status == 401);
    CHECK(get(p, "/stats?connections=1", orders).status == 401);
    CHECK(get(p, "/stats?connections=1").status == 401);

    // The rate is per key: "spare" spends its burst (30; two requests above took a
    // token each, the refused one too), the others still publish.
    for (int i = 0; i < 28; ++i) REQUIRE(post(p, "/publish", publish_body({"x.y"}, "a"), key_header("spare-key-1")).status == 202);
    auto limited = post(p, "/publish", publish_body({"x.y"}, "a"), key_header("spare-key-1"));
    CHECK(limited.status == 429);
    CHECK(std::stol(limited.header("Retry-After")) >= 900);  // one token in 1000 s
    CHECK(post(p, "/publish", publish_body({"orders.eu"}, "a"), orders).status == 202);

    const auto metrics = get(p, "/metrics").body;
    CHECK(has_sample(metrics, "ssehubd_publish_scope_refused_total " + std::to_string(refused)));
    CHECK(has_sample(metrics, "ssehubd_publish_rate_limited_total 1"));
    const auto log = d.log();
    CHECK(log.find("orders-key-1") == std::string::npos);  // keys are never logged
    CHECK(log.find("\"msg\":\"publish_scope_refused\"") != std::string::npos);
}

TEST_CASE("ssehubd: without --admin-key the unscoped publisher key is the admin key", "[daemon][keys]") {
    daemon_process d({"--publisher-key", "pk-unscoped", "--publisher-key-scoped", "s:scoped-key-1:a.>"});
    const auto p = d.port();
    CHECK(get(p, "/stats?connections=1", key_header("pk-unscoped")).status == 200);
    CHECK(get(p, "/stats?connections=1", key_header("scoped-key-1")).status == 401);
}

TEST_CASE("ssehubd: scoped key flags are checked at startup", "[daemon][keys]") {
    for (const std::vector<std::string>& bad :
         {std::vector<std::string>{"--publisher-key-scoped", "name-only"},
          std::vector<std::string>{"--publisher-key-scoped", "n:short:a.>"},
          std::vector<std::string>{"--publisher-key-scoped", "n:long-enough-key:a..b"},
          std::vector<std::string>{"--publisher-key-scoped", "n:long-enough-key:a.>", "--publisher-key-scoped",
                                   "n:other-long-key:b"},
          std::vector<std::string>{"--publisher-key", "same-key-123", "--publisher-key-scoped", "n:same-key-123:a"},
          std::vector<std::string>{"--publisher-jwt"}, std::vector<std::string>{"--publish-rate", "-1"}}) {
        daemon_process d(bad);
        std::string flags;
        for (const auto& a : bad) flags += a + " ";
        INFO(flags);
        CHECK(d.wait_exit(30s) == 2);
        CHECK(d.log().find("ssehubd: --") != std::string::npos);
    }
}

TEST_CASE("ssehubd: --max-streams-per-ip and the anonymous publishers' shared rate", "[daemon][keys][limits]") {
    daemon_process d({"--max-streams-per-ip", "2", "--publish-rate", "0.5", "--publish-burst", "3"});
    const auto p = d.port();

    auto a = std::make_unique<subscriber>(p, "/events?topics=t");
    subscriber b(p, "/events?topics=t");
    REQUIRE(a->connected());
    REQUIRE(b.connected());
    auto third = get(p, "/events?topics=t");
    CHECK(third.status == 429);
    CHECK(third.header("Retry-After") == "3");  // --retry-ms 3000
    CHECK(body_json(third)["error"].get<std::string>().find("--max-streams-per-ip 2") != std::string::npos);
    CHECK(get(p, "/events?topics=t").status == 429);

    // One ends (the client leaves): its slot comes back once the hub saw it go.
    a.reset();
    std::unique_ptr<subscriber> c;
    CHECK(test::poll_until([&] {
        c = std::make_unique<subscriber>(p, "/events?topics=t");
        return c->connected();
    }));
    CHECK(get(p, "/events?topics=t").status == 429);

    // Exact under churn: streams the hub refuses (a bad topic) and streams
    // that end give their slot back every time (the release follows the
    // answer closely, hence the polls), and no more than once.
    c.reset();
    for (int i = 0; i < 5; ++i) CHECK(test::poll_until([&] { return get(p, "/events?topics=a..b").status == 400; }));
    for (int i = 0; i < 10; ++i) {
        c.reset();
        CHECK(test::poll_until([&] {
            c = std::make_unique<subscriber>(p, "/events?topics=t");
            return c->connected();
        }));
    }
    CHECK(get(p, "/events?topics=t").status == 429);

    // Anonymous publishers (no key configured) share one bucket: 3 at once, then 429.
    for (int i = 0; i < 3; ++i) CHECK(post(p, "/publish", publish_body({"t"}, "a")).status == 202);
    auto limited = post(p, "/publish", publish_body({"t"}, "a"));
    CHECK(limited.status == 429);
    const auto retry = std::stol(limited.header("Retry-After"));
    CHECK(retry >= 1);
    CHECK(retry <= 2);  // one token every 2 s
    CHECK(body_json(limited)["error"].get<std::string>().starts_with("publish rate of 'anonymous' exceeded"));

    const auto metrics = get(p, "/metrics").body;
    CHECK(has_sample(metrics, "ssehubd_streams_refused_per_ip_total " +
                                  std::to_string(static_cast<int>(body_json(get(p, "/stats"))["limits"]["streams_refused_per_ip"]))));
    CHECK(has_sample(metrics, "ssehubd_publish_rate_limited_total 1"));
    CHECK(body_json(get(p, "/stats"))["limits"]["streams_refused_per_ip"].get<int>() >= 3);
}
