// The connect proxy (ssehub::connect_proxy_auth) against a backend defined
// here, and the HTTP client under it (ssehub::http::async_request).
#include "support/harness.hpp"
#include "support/http_backend.hpp"
#ifdef SSEHUB_TEST_TLS
#include "support/temp_dir.hpp"
#include "support/tls_cert.hpp"
#endif

#include <ssehub/connect_proxy.hpp>
#include <ssehub/http_client.hpp>
#include <ssehub/json_value.hpp>

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using test::client;
using test::http_backend;
using test::server;

namespace {

ssehub::hub_config proxied(ssehub::connect_proxy_options o) {
    ssehub::hub_config cfg;
    cfg.authenticate = ssehub::connect_proxy_auth(std::move(o));
    return cfg;
}

ssehub::connect_proxy_options options_for(const http_backend& b) {
    ssehub::connect_proxy_options o;
    o.url = b.url("/sse/connect");
    o.cookies = {"session"};
    return o;
}


// The body of a recorded request.
std::string body_of(const std::string& request) { return request.substr(request.find("\r\n\r\n") + 4); }

}  // namespace

TEST_CASE("http::parse_url", "[http_client]") {
    auto u = ssehub::http::parse_url("http://127.0.0.1:8081/a/b?x=1");
    REQUIRE(u);
    CHECK(u->host == "127.0.0.1");
    CHECK(u->port == "8081");
    CHECK(u->target == "/a/b?x=1");
    CHECK(u->authority() == "127.0.0.1:8081");
    u = ssehub::http::parse_url("HTTP://[::1]");
    REQUIRE(u);
    CHECK(u->host == "::1");
    CHECK(u->port == "80");
    CHECK(u->target == "/");
    CHECK(u->authority() == "[::1]");
    CHECK(ssehub::http::parse_url("https://idp.example.com/jwks")->port == "443");
    for (const char* bad : {"", "ftp://x", "http://", "http://:80", "http://a:0", "http://a:65536", "http://a:x",
                            "http://u@a/", "http://a/#f", "http://a /", "http://[::1/"})
        CHECK_FALSE(ssehub::http::parse_url(bad));
}

TEST_CASE("http::parse_response_head", "[http_client]") {
    ssehub::http::client_response r;
    REQUIRE(ssehub::http::parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A:  b \r\n\r\n", r));
    CHECK(r.status == 200);
    REQUIRE(r.find("x-a"));
    CHECK(*r.find("x-a") == "b");
    CHECK(ssehub::http::parse_response_head("HTTP/1.0 404\r\n\r\n", r));
    for (const char* bad : {"HTTP/1.1 200 OK\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20x OK\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "HTTP/1.1 200 OK\r\nA : b\r\n\r\n"})
        CHECK_FALSE(ssehub::http::parse_response_head(bad, r));
}

TEST_CASE("http::async_request: Content-Length, chunked, bounds, refused", "[http_client][loopback]") {
    http_backend backend([](const std::string& req) {
        if (req.find("POST /chunked") == 0) return http_backend::chunked(R"({"a":"chunked body"})");
        if (req.find("POST /big") == 0) return http_backend::json(std::string(70000, 'x'));
        return http_backend::json(body_of(req));  // echo
    });
    asio::io_context io;
    auto call = [&](std::string url, std::error_code& ec) {
        ssehub::http::client_options o;
        auto fut = asio::co_spawn(
            io, ssehub::http::async_request(*ssehub::http::parse_url(url), "POST", "application/json", "{\"x\":1}", o, ec),
            asio::use_future);
        io.restart();
        io.run();
        return fut.get();
    };
    std::error_code ec;
    auto r = call(backend.url("/echo"), ec);
    REQUIRE_FALSE(ec);
    CHECK(r.status == 200);
    CHECK(r.body == "{\"x\":1}");
    r = call(backend.url("/chunked"), ec);
    REQUIRE_FALSE(ec);
    CHECK(r.body == R"({"a":"chunked body"})");
    r = call(backend.url("/big"), ec);
    CHECK(ec == std::errc::message_size);
    call("http://127.0.0.1:" + std::to_string(test::closed_port()) + "/", ec);
    CHECK(ec == asio::error::connection_refused);
    call("https://127.0.0.1:" + std::to_string(test::closed_port()) + "/", ec);
    CHECK(ec == (ssehub::http::tls_supported() ? std::error_code(asio::error::connection_refused)
                                               : std::make_error_code(std::errc::protocol_not_supported)));
}

TEST_CASE("connect_proxy_answer: allow, deny, malformed", "[connect_proxy]") {
    ssehub::connect_proxy_options o;
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
    auto a = ssehub::connect_proxy_answer(
        R"({"result":{"user":42,"tenant":"acme","meta":{"plan":"pro"},"topics":["a"],"allowed_topics":["a.>"],"expire_at":2000}})",
        o, now);
    CHECK(a.status == 0);
    CHECK(a.metadata == ssehub::metadata{{"plan", "pro"}, {"sub", "42"}, {"tenant_id", "acme"}});
    CHECK(a.topics == std::vector<std::string>{"a"});
    CHECK(a.allowed_topics == std::vector<std::string>{"a.>"});
    CHECK(a.expires == std::chrono::system_clock::time_point(std::chrono::seconds(2000)));
    CHECK(ssehub::connect_proxy_answer(R"({"result":{}})", o, now).status == 0);
    CHECK(ssehub::connect_proxy_answer(R"({"error":{}})", o, now).status == 403);
    CHECK(ssehub::connect_proxy_answer(R"({"error":{"status":404,"reason":"x"}})", o, now).status == 404);
    CHECK(ssehub::connect_proxy_answer(R"({"result":{"expire_at":999}})", o, now).status == 401);
    for (const char* bad : {"", "[]", "{}", R"({"result":[]})", R"({"error":{"status":500}})",
                            R"({"result":{"topics":"a"}})", R"({"result":{"meta":{"a":[1]}}})",
                            R"({"result":{"user":true}})", R"({"result":{"expire_at":"soon"}})"}) {
        CHECK(ssehub::connect_proxy_answer(bad, o, now).status == 503);
        o.allow_on_failure = true;
        CHECK(ssehub::connect_proxy_answer(bad, o, now).status == 0);
        o.allow_on_failure = false;
    }
}

TEST_CASE("connect proxy: the backend allows with topics and tenant", "[connect_proxy][loopback]") {
    http_backend backend([](const std::string&) {
        return http_backend::chunked(R"({"result":{"user":"u1","tenant":"acme","topics":["orders.eu"]}})");
    });
    // Through the serve contract, which finds the peer's address for `remote`.
    server s(proxied(options_for(backend)), 1, [] { return ssehub::serve_options{}; });
    client c;
    c.get(s.port(), "/events?topics=asked.for",
          "Authorization: Bearer t1\r\nX-Other: no\r\nCookie: theme=dark; session=s1\r\n");
    REQUIRE(c.wait_events(1));
    CHECK(c.status() == 200);
    CHECK(c.events[0].data.find(R"("topics":["orders.eu"])") != std::string::npos);
    // The tenant became metadata: an event for acme's group reaches the stream, another tenant's does not.
    ssehub::event other = test::event_on({"orders.eu"}, "theirs");
    other.group = {{"tenant_id", "other"}};
    s.publish_sync(other);
    ssehub::event mine = test::event_on({"orders.eu"}, "ours");
    mine.group = {{"tenant_id", "acme"}, {"sub", "u1"}};
    s.publish_sync(mine);
    REQUIRE(c.wait_events(2));
    CHECK(c.events[1].data == "ours");

    const auto reqs = backend.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].find("POST /sse/connect HTTP/1.1\r\n") == 0);
    const auto body = ssehub::json::parse(body_of(reqs[0]));
    REQUIRE(body);
    CHECK(body->find("remote")->as_string().rfind("127.0.0.1:", 0) == 0);
    CHECK(body->find("path")->as_string() == "/events");
    CHECK(body->find("query")->as_string() == "topics=asked.for");
    CHECK(ssehub::json::serialize(*body->find("topics")) == R"(["asked.for"])");
    CHECK(ssehub::json::serialize(*body->find("headers")) == R"({"authorization":"Bearer t1"})");
    CHECK(ssehub::json::serialize(*body->find("cookies")) == R"({"session":"s1"})");
}

TEST_CASE("connect proxy: deny, timeout and backend down refuse", "[connect_proxy][loopback]") {
    http_backend backend([](const std::string&) { return http_backend::json(R"({"error":{"status":403}})"); });
    auto o = options_for(backend);
    o.timeout = 300ms;
    SECTION("deny with 403") {
        server s(proxied(o));
        client c;
        c.get(s.port(), "/events?topics=a");
        REQUIRE(c.wait_closed());
        CHECK(c.status() == 403);
    }
    SECTION("deny with 429 carries Retry-After") {
        backend.set_answer([](const std::string&) { return http_backend::json(R"({"error":{"status":429}})"); });
        server s(proxied(o));
        client c;
        c.get(s.port(), "/events?topics=a");
        REQUIRE(c.wait_closed());
        CHECK(c.status() == 429);
        CHECK(c.head().find("Retry-After: ") != std::string::npos);
    }
    SECTION("a backend error status is a failure: 503") {
        backend.set_answer([](const std::string&) { return http_backend::json("{}", 500); });
        server s(proxied(o));
        client c;
        c.get(s.port(), "/events?topics=a");
        REQUIRE(c.wait_closed());
        CHECK(c.status() == 503);
    }
    SECTION("the backend never answers: 503 after the timeout") {
        backend.set_hold(true);
        server s(proxied(o));
        client c;
        c.get(s.port(), "/events?topics=a");
        REQUIRE(c.wait_closed());
        CHECK(c.status() == 503);
        CHECK(backend.request_count() == 1);
    }
    SECTION("the backend is down: 503, or admitted with allow_on_failure") {
        o.url = "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/connect";
        server s(proxied(o));
        client c;
        c.get(s.port(), "/events?topics=a");
        REQUIRE(c.wait_closed());
        CHECK(c.status() == 503);
        o.allow_on_failure = true;
        server open(proxied(o));
        client d;
        d.get(open.port(), "/events?topics=a");
        REQUIRE(d.wait_events(1));
        CHECK(d.status() == 200);
    }
}

TEST_CASE("connect proxy: calls in flight are bounded by the concurrency limit", "[connect_proxy][loopback]") {
    http_backend backend([](const std::string&) { return http_backend::json(R"({"result":{}})"); });
    backend.set_hold(true);
    auto o = options_for(backend);
    o.concurrency = 2;
    o.timeout = 10s;
    server s(proxied(o), 2);
    constexpr int n = 6;
    std::vector<client> clients(n);
    for (auto& c : clients) c.get(s.port(), "/events?topics=a");
    // Two calls reach the backend and wait there; the other four are answered 503 at once.
    REQUIRE(test::poll_until([&] { return backend.in_flight() == 2; }));
    const bool all_answered = test::poll_until([&] {
        int answered = 0;
        for (auto& c : clients) {
            c.read_until([&] { return c.head_done(); }, 10ms);
            if (c.head_done()) ++answered;
        }
        return answered == n - 2;
    });
    REQUIRE(all_answered);
    for (auto& c : clients)
        if (c.head_done()) CHECK(c.status() == 503);
    backend.release();
    int admitted = 0;
    for (auto& c : clients)
        if (!c.head_done() && c.wait_events(1)) ++admitted;
    CHECK(admitted == 2);
    CHECK(backend.max_in_flight() == 2);
    CHECK(backend.request_count() == 2);
}

#ifdef SSEHUB_TEST_TLS
TEST_CASE("http::async_request over https: the certificate and host name are verified", "[http_client][loopback][tls]") {
    REQUIRE(ssehub::http::tls_supported());
    test::temp_dir dir;
    const auto good = test::make_self_signed(11, "backend");  // subjectAltName IP:127.0.0.1, DNS:localhost
    const auto misnamed = test::make_self_signed(12, "elsewhere", "DNS:elsewhere.example");
    const std::string good_ca = dir.write("good.pem", good.cert_pem);
    const std::string misnamed_ca = dir.write("misnamed.pem", misnamed.cert_pem);
    auto answer = [](const std::string& req) {
        if (req.find("POST /chunked") == 0) return http_backend::chunked(R"({"a":"chunked over tls"})");
        return http_backend::json(body_of(req));
    };
    http_backend backend(answer, test::server_tls_context(good.cert_pem, good.key_pem));
    http_backend other(answer, test::server_tls_context(misnamed.cert_pem, misnamed.key_pem));
    REQUIRE(backend.url().rfind("https://127.0.0.1:", 0) == 0);

    asio::io_context io;
    auto call = [&](std::string url, std::string ca_file, std::error_code& ec) {
        ssehub::http::client_options o;
        o.ca_file = std::move(ca_file);
        auto fut = asio::co_spawn(
            io, ssehub::http::async_request(*ssehub::http::parse_url(url), "POST", "application/json", "{\"x\":2}", o, ec),
            asio::use_future);
        io.restart();
        io.run();
        return fut.get();
    };
    std::error_code ec;
    auto r = call(backend.url("/echo"), good_ca, ec);
    REQUIRE_FALSE(ec);
    CHECK(r.status == 200);
    CHECK(r.body == "{\"x\":2}");
    r = call(backend.url("/chunked"), good_ca, ec);
    REQUIRE_FALSE(ec);
    CHECK(r.body == R"({"a":"chunked over tls"})");
    // A host name (sent as SNI) matched against the certificate's DNS name.
    r = call("https://localhost:" + std::to_string(backend.port()) + "/echo", good_ca, ec);
    REQUIRE_FALSE(ec);
    CHECK(r.status == 200);

    // Not trusted: the system's CAs do not know the test certificate.
    call(backend.url("/echo"), "", ec);
    CHECK(ec);
    CHECK(ec != std::errc::timed_out);
    // Trusted, but issued for another name than 127.0.0.1.
    call(other.url("/echo"), misnamed_ca, ec);
    CHECK(ec);
    CHECK(ec != std::errc::timed_out);
    // Plain HTTP to the TLS port is not an answer.
    call("http://127.0.0.1:" + std::to_string(backend.port()) + "/echo", "", ec);
    CHECK(ec);
    // An unreadable CA file.
    call(backend.url("/echo"), dir.file("missing.pem"), ec);
    CHECK(ec);
    CHECK(backend.request_count() == 3);  // the refused handshakes never sent a request
}

TEST_CASE("connect proxy over https", "[connect_proxy][loopback][tls]") {
    test::temp_dir dir;
    const auto id = test::make_self_signed(13, "proxy-backend");
    http_backend backend([](const std::string&) { return http_backend::json(R"({"result":{"user":"u9","topics":["t"]}})"); },
                         test::server_tls_context(id.cert_pem, id.key_pem));
    auto o = options_for(backend);
    o.ca_file = dir.write("ca.pem", id.cert_pem);
    server s(proxied(o));
    client c;
    c.get(s.port(), "/events?topics=t");
    REQUIRE(c.wait_events(1));
    CHECK(c.status() == 200);
    CHECK(c.events[0].data.find(R"("topics":["t"])") != std::string::npos);

    // Without trust in its certificate the call fails: 503 (deny on failure).
    auto untrusted = options_for(backend);
    server s2(proxied(untrusted));
    client refused;
    refused.get(s2.port(), "/events?topics=t");
    REQUIRE(refused.wait_response());
    CHECK(refused.status() == 503);
}
#endif
