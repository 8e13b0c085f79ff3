// ssehubd --connect-proxy and --jwt-jwks http(s)://... against backends defined here.
#include "daemon_process.hpp"

#include <ssehub/jwt.hpp>

#include <catch2/catch.hpp>

#include "support/http_backend.hpp"
#include "support/jwt_keys.hpp"
#ifdef SSEHUB_TEST_TLS
#include "support/temp_dir.hpp"
#include "support/tls_cert.hpp"
#endif

#include <mutex>

using namespace daemon_test;
using test::http_backend;

TEST_CASE("ssehubd: --connect-proxy: allow with topics and tenant, deny with 403, backend down", "[daemon][connect_proxy]") {
    http_backend backend([](const std::string& req) {
        if (req.find(R"("authorization":"Bearer good")") != std::string::npos)
            return http_backend::json(R"({"result":{"user":"u1","tenant":"acme","topics":["orders.eu"]}})");
        return http_backend::json(R"({"error":{"status":403,"reason":"unknown session"}})");
    });
    daemon_process d({"--connect-proxy", backend.url("/connect"), "--connect-proxy-cookies", "session"});
    const auto p = d.port();
    subscriber good(p, "/events?topics=anything", "Authorization: Bearer good\r\nCookie: session=s1\r\n");
    REQUIRE(good.connected());
    CHECK(good.c.events[0].data.find(R"("topics":["orders.eu"])") != std::string::npos);
    CHECK(get(p, "/events?topics=anything", "Authorization: Bearer bad\r\n").status == 403);
    const auto reqs = backend.requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].find(R"("cookies":{"session":"s1"})") != std::string::npos);
    CHECK(reqs[0].find(R"("remote":"127.0.0.1:)") != std::string::npos);
    // The reason is logged (once the answer is written), never sent.
    CHECK(test::poll_until([&] { return d.log().find("unknown session") != std::string::npos; }));

    daemon_process down({"--connect-proxy", "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/connect"});
    const auto r = get(down.port(), "/events?topics=a", "Authorization: Bearer good\r\n");
    CHECK(r.status == 503);
    CHECK(!r.header("Retry-After").empty());
}

TEST_CASE("ssehubd: bad --connect-proxy and --jwt-jwks URLs do not start", "[daemon][connect_proxy]") {
    for (const char* args : {"--connect-proxy ftp://x/connect", "--connect-proxy http://x:0/",
                             "--connect-proxy http://127.0.0.1:1/ --auth tickets --publisher-key k",
                             "--connect-proxy-on-failure maybe", "--auth jwt --jwt-jwks gopher://idp/jwks",
                             "--connect-proxy https://127.0.0.1:1/ --backend-ca-file /nonexistent/ca.pem"}) {
        const std::string cmd = std::string(SSEHUBD_PATH) + " " + args + " --listen 127.0.0.1:0 >/dev/null 2>&1";
        const int st = std::system(cmd.c_str());
        CHECK(WIFEXITED(st));
        CHECK(WEXITSTATUS(st) == 2);
    }
}

TEST_CASE("ssehubd: --help lists the connect proxy and JWKS URL flags", "[daemon][connect_proxy]") {
    std::string out;
    FILE* f = ::popen((std::string(SSEHUBD_PATH) + " --help").c_str(), "r");
    REQUIRE(f);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    CHECK(::pclose(f) == 0);
    for (const char* flag : {"--connect-proxy URL", "--connect-proxy-timeout-ms", "--connect-proxy-concurrency",
                             "--connect-proxy-on-failure", "--connect-proxy-headers", "--connect-proxy-cookies",
                             "--jwt-jwks-refresh-s", "--jwt-jwks-min-refresh-s", "SSEHUBD_CONNECT_PROXY_ON_FAILURE",
                             "--backend-ca-file FILE"}) {
        INFO(flag);
        CHECK(out.find(flag) != std::string::npos);
    }
}

TEST_CASE("ssehubd: --jwt-jwks http://: kid rotation without restart, forged refused, oversized kept out",
          "[daemon][auth][jwks]") {
#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
    using test::jwt::key_type;
    const auto a = test::jwt::generate(key_type::ec);
    const auto b = test::jwt::generate(key_type::ec);
    std::mutex mu;
    std::string jwks = R"({"keys":[)" + test::jwt::jwk(key_type::ec, a, R"(,"kid":"a1")") + "]}";
    http_backend server([&](const std::string&) {
        std::lock_guard lock(mu);
        return http_backend::json(jwks);
    });
    const auto serve = [&](std::string doc) {
        std::lock_guard lock(mu);
        jwks = std::move(doc);
    };
    daemon_process d({"--auth", "jwt", "--jwt-jwks", server.url("/jwks.json"), "--jwt-jwks-min-refresh-s", "1"});
    const auto p = d.port();
    const std::string claims = R"({"sub":"u1","topics":["orders.>"]})";
    const auto token = [&](std::string_view kid, const std::string& pem) {
        return ssehub::sign_jwt(R"({"alg":"ES256","kid":")" + std::string(kid) + "\"}", claims, pem);
    };
    subscriber with_a(p, "/events?topics=orders.eu&token=" + token("a1", a.private_pem));
    REQUIRE(with_a.connected());

    serve(R"({"keys":[)" + test::jwt::jwk(key_type::ec, b, R"(,"kid":"b1")") + "]}");
    // b1 is unknown: the verification fetches the JWKS again, then accepts the token.
    subscriber with_b(p, "/events?topics=orders.eu&token=" + token("b1", b.private_pem));
    REQUIRE(with_b.connected());
    CHECK(get(p, "/events?topics=orders.eu&token=" + token("b1", test::jwt::generate(key_type::ec).private_pem)).status ==
          401);  // forged: b1's kid, another key
    CHECK(get(p, "/events?topics=orders.eu&token=" + token("a1", a.private_pem)).status == 401);  // a1 is gone
    CHECK(server.request_count() >= 2);  // at start, and for b1

    // An oversized JWKS is refused with a clear error and the keys stay.
    serve(R"({"keys":[],"pad":")" + std::string(70000, 'x') + "\"}");
    CHECK(test::poll_until([&] {
        (void)get(p, "/events?topics=orders.eu&token=" + token("zz", b.private_pem));  // unknown kid: a fetch, once a second
        return d.log().find("over 65536 bytes") != std::string::npos;
    }));
    subscriber still_b(p, "/events?topics=orders.eu&token=" + token("b1", b.private_pem));
    CHECK(still_b.connected());
#else
    SUCCEED("ssehub built without OpenSSL");
#endif
}

#if defined(SSEHUB_TEST_TLS) && defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
TEST_CASE("ssehubd: https --jwt-jwks and --connect-proxy with --backend-ca-file", "[daemon][auth][jwks][tls]") {
    test::temp_dir dir;
    const auto id = test::make_self_signed(21, "idp");  // for 127.0.0.1
    const std::string ca = dir.write("ca.pem", id.cert_pem);
    const auto tls = test::server_tls_context(id.cert_pem, id.key_pem);

    using test::jwt::key_type;
    const auto k = test::jwt::generate(key_type::ec);
    http_backend idp([&](const std::string&) {
        return http_backend::json(R"({"keys":[)" + test::jwt::jwk(key_type::ec, k, R"(,"kid":"k1")") + "]}");
    }, tls);
    REQUIRE(idp.url().rfind("https://", 0) == 0);
    daemon_process d({"--auth", "jwt", "--jwt-jwks", idp.url("/jwks.json"), "--backend-ca-file", ca});
    const auto token = ssehub::sign_jwt(R"({"alg":"ES256","kid":"k1"})", R"({"sub":"u1","topics":["orders.>"]})",
                                        k.private_pem);
    subscriber s(d.port(), "/events?topics=orders.eu&token=" + token);
    CHECK(s.connected());
    // Hostile: tokens naming kids the JWKS lacks are refused, and fetch the
    // JWKS at most once per --jwt-jwks-min-refresh-s (10): they cannot hammer the provider.
    for (int i = 0; i < 20; ++i) {
        const auto forged = ssehub::sign_jwt(R"({"alg":"ES256","kid":"x)" + std::to_string(i) + "\"}",
                                             R"({"sub":"u1","topics":["orders.>"]})", k.private_pem);
        CHECK(get(d.port(), "/events?topics=orders.eu&token=" + forged).status == 401);
    }
    CHECK(idp.request_count() <= 2);  // at start, and at most one for the unknown kids
    // Without the CA the certificate is not trusted: the first fetch fails, ssehubd does not start.
    const std::string cmd = std::string(SSEHUBD_PATH) + " --auth jwt --jwt-jwks " + idp.url("/jwks.json") +
                            " --listen 127.0.0.1:0 >/dev/null 2>&1";
    const int st = std::system(cmd.c_str());
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) != 0);

    http_backend proxy([](const std::string&) { return http_backend::json(R"({"result":{"user":"u2","topics":["t"]}})"); },
                       tls);
    daemon_process p({"--connect-proxy", proxy.url("/connect"), "--backend-ca-file", ca});
    subscriber allowed(p.port(), "/events?topics=x");
    REQUIRE(allowed.connected());
    CHECK(allowed.c.events[0].data.find(R"("topics":["t"])") != std::string::npos);
}
#endif
