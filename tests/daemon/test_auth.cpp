// --auth tickets and --auth jwt end to end, visibility by credentials, and
// Last-Event-ID replay.
#include "daemon_process.hpp"
#include "replies.hpp"

#include <ssehub/jwt.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/jwt_keys.hpp"

#include <filesystem>
#include <fstream>

using namespace daemon_test;
using json = nlohmann::json;

namespace {

const std::string jwt_header = R"({"alg":"HS256","typ":"JWT"})";

}  // namespace

TEST_CASE("ssehubd: tickets: the backend issues, the browser subscribes once", "[daemon][auth]") {
    daemon_process d({"--auth", "tickets", "--publisher-key", "pk"});
    const auto p = d.port();
    const std::string key = "X-Publisher-Key: pk\r\n";
    const std::string want = R"({"topics":["orders.*"],"metadata":{"tenant_id":"t1","sub":"u1"}})";

    CHECK(post(p, "/tickets", want).status == 401);
    CHECK(post(p, "/tickets", want, "X-Publisher-Key: wrong\r\n").status == 401);
    auto bad_topics = post(p, "/tickets", R"({"topics":["a..b"]})", key);
    CHECK(bad_topics.status == 400);
    CHECK(json::parse(bad_topics.body)["error"].get<std::string>().starts_with("topics[0]"));
    CHECK(post(p, "/tickets", R"({"topics":[]})", key).status == 400);
    CHECK(post(p, "/tickets", R"({"topics":["x"],"metadata":{"k":1}})", key).status == 400);
    CHECK(post(p, "/tickets", R"({"topics":["x"],"ttl_ms":0})", key).status == 400);
    CHECK(post(p, "/tickets", "nope", key).status == 400);

    auto issued = post(p, "/tickets", want, key);
    REQUIRE(issued.status == 201);
    auto j = json::parse(issued.body);
    const std::string ticket = j["ticket"];
    CHECK(j["expires_in_ms"] == 30000);
    CHECK(ticket.size() >= 32);

    CHECK(get(p, "/events?topics=orders.eu").status == 401);           // no ticket
    CHECK(get(p, "/events?ticket=not-a-ticket").status == 401);         // unknown ticket
    subscriber s(p, "/events?ticket=" + ticket);
    REQUIRE(s.connected());
    CHECK(json::parse(s.c.events[0].data)["topics"] == json::array({"orders.*"}));  // topics come from the ticket
    CHECK(get(p, "/events?ticket=" + ticket).status == 401);            // used once

    // The ticket's metadata scopes tenant events.
    auto mine = post(p, "/publish/invalidate", R"({"tenant":"t1","resource":"orders.eu","action":"created"})", key);
    CHECK(json::parse(mine.body)["matched"] == 1);
    auto theirs = post(p, "/publish/invalidate", R"({"tenant":"t2","resource":"orders.eu","action":"created"})", key);
    CHECK(json::parse(theirs.body)["matched"] == 0);
    REQUIRE(s.wait_for("invalidate"));

    // auth_failed is logged when the refused stream's async_serve completes.
    CHECK(test::poll_until([&] { return d.log().find("auth_failed") != std::string::npos; }));
    const auto log = d.log();
    CHECK(log.find(ticket) == std::string::npos);  // never logged
    CHECK(log.find("\"msg\":\"ticket_issued\"") != std::string::npos);
}

TEST_CASE("ssehubd: tickets are off unless --auth tickets", "[daemon][auth]") {
    daemon_process d({});
    CHECK(post(d.port(), "/tickets", R"({"topics":["x"]})").status == 404);
}

TEST_CASE("ssehubd: jwt: bearer header or ?token=, topics claim enforced", "[daemon][auth]") {
    if (!ssehub::hs256_available) {
        SUCCEED("ssehub built without OpenSSL: --auth jwt is refused at startup");
        return;
    }
    daemon_process d({"--auth", "jwt", "--jwt-issuer", "issuer-1"}, {"SSEHUBD_JWT_SECRET=" + jwt_secret});
    const auto p = d.port();
    const std::string token = ssehub::sign_hs256(
        jwt_header, R"({"sub":"u1","tenant_id":"t1","iss":"issuer-1","topics":["orders.>"]})", jwt_secret);
    const std::string other = ssehub::sign_hs256(
        jwt_header, R"({"sub":"u2","tenant_id":"t1","iss":"issuer-1","topics":["orders.>"]})", jwt_secret);
    const std::string forged = ssehub::sign_hs256(jwt_header, R"({"sub":"u1","iss":"issuer-1"})", "wrong-secret");
    const std::string wrong_iss = ssehub::sign_hs256(jwt_header, R"({"sub":"u1","iss":"someone"})", jwt_secret);

    CHECK(get(p, "/events?topics=orders.eu").status == 401);
    CHECK(get(p, "/events?topics=orders.eu", "Authorization: Bearer " + forged + "\r\n").status == 401);
    CHECK(get(p, "/events?topics=orders.eu", "Authorization: Bearer " + wrong_iss + "\r\n").status == 401);
    CHECK(get(p, "/events?topics=billing", "Authorization: Bearer " + token + "\r\n").status == 403);

    subscriber by_header(p, "/events?topics=orders.eu", "Authorization: Bearer " + token + "\r\n");
    REQUIRE(by_header.connected());
    subscriber by_query(p, "/events?topics=orders.*&token=" + token);
    REQUIRE(by_query.connected());

    // Visibility: the same subscriber (same metadata) may pause its stream; another may not.
    const std::string body = json{{"connection_id", by_header.connection_id}, {"hidden", true}}.dump();
    CHECK(post(p, "/events/visibility", body).status == 403);
    CHECK(post(p, "/events/visibility", body, "Authorization: Bearer " + other + "\r\n").status == 403);
    CHECK(post(p, "/events/visibility", body, "Authorization: Bearer " + forged + "\r\n").status == 403);
    CHECK(post(p, "/events/visibility", body, "Authorization: Bearer " + token + "\r\n").status == 200);

    CHECK(test::poll_until([&] { return d.log().find("auth_failed") != std::string::npos; }));
    const auto log = d.log();
    for (const auto& t : {token, other, forged, wrong_iss}) CHECK(log.find(t) == std::string::npos);
    CHECK(log.find("\"sub\":\"u1\"") != std::string::npos);  // metadata is logged at connect
}

TEST_CASE("ssehubd: jwt: RS256 with --jwt-public-key, ES256 with --jwt-jwks (re-read when it changes)", "[daemon][auth]") {
#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
    using test::jwt::key_type;
    const auto rsa = test::jwt::generate(key_type::rsa);
    const auto ec = test::jwt::generate(key_type::ec);
    const auto ec2 = test::jwt::generate(key_type::ec);
    char dir_template[] = "/tmp/ssehubd_test_jwt_XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    const std::string dir = dir_template;
    struct cleanup {
        std::string dir;
        ~cleanup() {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        }
    } cleanup_dir{dir};
    const auto write = [](const std::string& path, const std::string& text) {
        const std::string tmp = path + ".tmp";
        std::ofstream(tmp, std::ios::binary) << text;
        std::filesystem::rename(tmp, path);  // the daemon never sees half a file
    };
    write(dir + "/rsa.pem", rsa.public_pem);
    write(dir + "/jwks.json", R"({"keys":[)" + test::jwt::jwk(key_type::ec, ec, R"(,"kid":"e1")") + "]}");

    daemon_process d({"--auth", "jwt", "--jwt-public-key", dir + "/rsa.pem", "--jwt-jwks", dir + "/jwks.json"});
    const auto p = d.port();
    const std::string claims = R"({"sub":"u1","tenant_id":"t1","topics":["orders.>"]})";
    const std::string rs256 = ssehub::sign_jwt(R"({"alg":"RS256","typ":"JWT"})", claims, rsa.private_pem);
    const std::string forged =
        ssehub::sign_jwt(R"({"alg":"RS256","typ":"JWT"})", claims, test::jwt::generate(key_type::rsa).private_pem);
    const std::string confused = ssehub::sign_hs256(R"({"alg":"HS256","typ":"JWT"})", claims, rsa.public_pem);
    const std::string es256 = ssehub::sign_jwt(R"({"alg":"ES256","kid":"e1"})", claims, ec.private_pem);
    const std::string es256_next = ssehub::sign_jwt(R"({"alg":"ES256","kid":"e2"})", claims, ec2.private_pem);

    subscriber admitted(p, "/events?topics=orders.eu", "Authorization: Bearer " + rs256 + "\r\n");
    REQUIRE(admitted.connected());
    CHECK(get(p, "/events?topics=orders.eu", "Authorization: Bearer " + forged + "\r\n").status == 401);
    CHECK(get(p, "/events?topics=orders.eu", "Authorization: Bearer " + confused + "\r\n").status == 401);
    subscriber by_kid(p, "/events?topics=orders.eu&token=" + es256);
    REQUIRE(by_kid.connected());
    CHECK(get(p, "/events?topics=billing&token=" + es256_next).status == 401);  // kid e2 unknown yet

    // Key rotation: the new JWKS names e2; a token for it is then authenticated
    // (403 here: it asks for a topic outside its claim, so no stream stays open).
    write(dir + "/jwks.json", R"({"keys":[)" + test::jwt::jwk(key_type::ec, ec2, R"(,"kid":"e2")") + "]}");
    CHECK(test::poll_until([&] { return get(p, "/events?topics=billing&token=" + es256_next).status == 403; }));
    CHECK(get(p, "/events?topics=billing&token=" + es256).status == 401);  // e1 is gone
    // An unusable JWKS keeps the keys there were.
    write(dir + "/jwks.json", R"({"keys":[{"kty":"XYZ"}]})");
    // (The file is looked at by a verification: each probe is one.)
    CHECK(test::poll_until([&] {
        CHECK(get(p, "/events?topics=billing&token=" + es256_next).status == 403);
        return d.log().find("jwks_reload_failed") != std::string::npos;
    }));
    CHECK(get(p, "/events?topics=billing&token=" + es256_next).status == 403);

    const auto log = d.log();
    CHECK(log.find("jwks_reloaded") != std::string::npos);
    CHECK(log.find("signature mismatch") != std::string::npos);
    for (const auto& t : {rs256, forged, es256}) CHECK(log.find(t) == std::string::npos);
#else
    SUCCEED("ssehub built without OpenSSL");
#endif
}

TEST_CASE("ssehubd: --jwt-public-key that is not a public key does not start", "[daemon][auth]") {
    char path[] = "/tmp/ssehubd_test_pem_XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path) << "not a key";
    const std::string cmd =
        std::string(SSEHUBD_PATH) + " --auth jwt --jwt-public-key " + path + " --listen 127.0.0.1:0 >/dev/null 2>&1";
    const int st = std::system(cmd.c_str());
    std::filesystem::remove(path);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 1);
}

TEST_CASE("ssehubd: jwt: a stream ends with auth-expired when its token does", "[daemon][auth]") {
    if (!ssehub::hs256_available) {
        SUCCEED("ssehub built without OpenSSL: --auth jwt is refused at startup");
        return;
    }
    daemon_process d({"--auth", "jwt", "--jwt-leeway-s", "0", "--auth-expiry-grace-ms", "200", "--heartbeat-ms", "100"},
                     {"SSEHUBD_JWT_SECRET=" + jwt_secret});
    const auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch() + std::chrono::seconds(2))
                         .count();
    const std::string token =
        ssehub::sign_hs256(jwt_header, R"({"sub":"u1","exp":)" + std::to_string(exp) + "}", jwt_secret);
    subscriber s(d.port(), "/events?topics=orders.eu", "Authorization: Bearer " + token + "\r\n");
    REQUIRE(s.connected());
    const auto e = s.wait_for("auth-expired");
    REQUIRE(e);
    CHECK(e->data == R"({"reason":"expired"})");
    CHECK(std::chrono::system_clock::now() >= std::chrono::system_clock::time_point(std::chrono::seconds(exp)) +
                                                   std::chrono::milliseconds(200));  // exp + grace, never earlier
    CHECK(s.c.wait_closed());
    CHECK(test::poll_until([&] { return d.log().find("\"reason\":\"auth_expired\"") != std::string::npos; }));
}

TEST_CASE("ssehubd: --auth jwt without a secret does not start", "[daemon][auth]") {
    const std::string cmd = std::string(SSEHUBD_PATH) + " --auth jwt --listen 127.0.0.1:0 >/dev/null 2>&1";
    const int st = std::system(cmd.c_str());
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 2);
}

TEST_CASE("ssehubd: Last-Event-ID replays what a reconnecting client missed", "[daemon][replay]") {
    daemon_process d({"--replay-size", "100"});
    const auto p = d.port();
    std::string first_id;
    {
        subscriber s(p, "/events?topics=news");
        REQUIRE(s.connected());
        auto r = post(p, "/publish", R"({"topics":["news"],"data":"one"})");
        first_id = json::parse(r.body)["id"];
        REQUIRE(s.wait_for("message"));
    }
    REQUIRE(post(p, "/publish", R"({"topics":["news"],"data":"two"})").status == 202);
    REQUIRE(post(p, "/publish", R"({"topics":["other"],"data":"not mine"})").status == 202);
    REQUIRE(post(p, "/publish", R"({"topics":["news"],"data":"three"})").status == 202);

    subscriber back(p, "/events?topics=news", "Last-Event-ID: " + first_id + "\r\n");
    REQUIRE(back.connected());
    REQUIRE(back.c.read_until(
        [&] {
            int n = 0;
            for (const auto& e : back.c.events) n += e.type == "message";
            return n >= 2;
        },
        20s));
    std::vector<std::string> data;
    for (const auto& e : back.c.events)
        if (e.type == "message") data.push_back(e.data);
    CHECK(data == std::vector<std::string>{"two", "three"});

    // The same through ?lastEventId= (EventSource cannot set headers on a first connect).
    subscriber q(p, "/events?topics=news&lastEventId=" + first_id);
    REQUIRE(q.connected());
    REQUIRE(q.wait_for("message"));
    CHECK(test::poll_until([&] {
        const auto m = get(p, "/metrics").body;
        return m.find("\nssehub_events_replayed_total 4\n") != std::string::npos;
    }));
}
