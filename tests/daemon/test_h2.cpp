// ssehubd over HTTP/2 (ssehub::h2): ALPN h2 on the TLS listener and --h2c.
// Real clients: curl --http2 / --http2-prior-knowledge, and nghttp2's client
// API (support/h2_client.hpp) for many streams on one connection, a stream
// that never reads, hostile frames and the GOAWAY at drain.
#ifdef SSEHUB_TEST_H2

#include "curl_process.hpp"
#include "daemon_process.hpp"
#include "support/h2_client.hpp"
#ifdef SSEHUB_TEST_TLS
#include "support/tls_cert.hpp"
#endif

#include <ssehub/jwt.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

using namespace daemon_test;

namespace {

std::string h2c_url(const daemon_process& d, std::string_view path) {
    return "http://127.0.0.1:" + std::to_string(d.port()) + std::string(path);
}

// `n` events of `size` bytes of data on `topic`, in one batch.
std::string batch(std::string_view topic, int n, std::size_t size) {
    std::string body = "[";
    for (int i = 0; i < n; ++i) {
        if (i) body += ',';
        body += R"({"topics":[")" + std::string(topic) + R"("],"data":")" + std::string(size, 'x') + R"("})";
    }
    return body + "]";
}

bool has(test::h2_client& c, std::int32_t id, std::string_view needle) {
    return c.stream(id).data.find(needle) != std::string::npos;
}

}  // namespace

#ifdef SSEHUB_TEST_TLS
TEST_CASE("ssehubd over TLS negotiates h2 by ALPN: curl --http2 gets events and a Last-Event-ID replay; "
          "HTTP/1.1 still served on the same port",
          "[daemon][h2][tls]") {
    char tmpl[] = "/tmp/ssehubd_test_h2_XXXXXX";
    REQUIRE(::mkdtemp(tmpl));
    const std::string dir = tmpl;
    const auto [cert, key] = test::make_self_signed(11, "ssehubd-h2").write(dir, "");
    {
        daemon_process d({"--tls-cert", cert, "--tls-key", key});
        const std::string base = "https://127.0.0.1:" + std::to_string(d.port());
        CHECK(curl({"--http2", "-o", "/dev/null", "-w", "%{http_version}", base + "/healthz"}) == "2");
        CHECK(curl({"--http1.1", "-o", "/dev/null", "-w", "%{http_version}", base + "/healthz"}) == "1.1");

        curl_process stream({"--http2", "-N", base + "/events?topics=orders"});
        REQUIRE(stream.wait_output("event: connected"));
        const std::string first = curl({"--http2", "-XPOST", "-d", R"({"topics":["orders"],"data":"one"})", base + "/publish"});
        REQUIRE(first.find("\"matched\":1") != std::string::npos);
        REQUIRE(stream.wait_output("data: one"));
        curl({"--http2", "-XPOST", "-d", R"({"topics":["orders"],"data":"two"})", base + "/publish"});
        REQUIRE(stream.wait_output("data: two"));

        // A second stream resumes after the first event: the replay gives the second.
        const auto at = first.find("\"id\":\"") + 6;
        const std::string first_id = first.substr(at, first.find('"', at) - at);
        curl_process resumed({"--http2", "-N", "-H", "Last-Event-ID: " + first_id, base + "/events?topics=orders"});
        REQUIRE(resumed.wait_output("data: two"));
        CHECK(resumed.output().find("data: one") == std::string::npos);
        CHECK(test::poll_until([&] {
            return curl({"--http2", base + "/metrics"}).find("ssehubd_h2_connections_total ") != std::string::npos;
        }));
    }
    std::filesystem::remove_all(dir);
}
#endif

TEST_CASE("ssehubd --h2c: many streams on one connection, auth per stream, a stream that never reads is dropped "
          "while its sibling keeps receiving, RST_STREAM ends one stream, hostile input, GOAWAY after server-shutdown",
          "[daemon][h2]") {
    if (!ssehub::hs256_available) {
        SUCCEED("ssehub built without OpenSSL: --auth jwt is refused at startup");
        return;
    }
    const std::string secret = "a-long-test-secret-for-hs256-0123456789";
    const std::string token =
        ssehub::sign_hs256(R"({"alg":"HS256","typ":"JWT"})", R"({"sub":"u1","topics":["t"]})", secret);
    daemon_process d({"--h2c", "--auth", "jwt", "--write-timeout-ms", "300", "--send-queue", "8", "--max-body",
                      "1048576", "--h2-reset-burst", "20", "--h2-reset-rate", "1", "--head-timeout-ms", "300"},
                     {"SSEHUBD_JWT_SECRET=" + secret});
    const auto p = d.port();

    // curl with prior knowledge.
    curl_process by_curl({"--http2-prior-knowledge", "-N", h2c_url(d, "/events?topics=t&token=" + token)});
    REQUIRE(by_curl.wait_output("event: connected"));

    // One connection, several streams: authenticated, refused (no token),
    // one that never reads (its window stays shut), one the client resets.
    test::h2_client c(p, 4096);
    const auto reader = c.request("GET", "/events?topics=t", {{"authorization", "Bearer " + token}});
    const auto refused = c.request("GET", "/events?topics=t");
    const auto stalled = c.request("GET", "/events?topics=t&token=" + token, {}, /*consume=*/false);
    const auto reset = c.request("GET", "/events?topics=t&token=" + token);
    REQUIRE(c.pump_until([&] {
        return has(c, reader, "event: connected") && has(c, reset, "event: connected") && c.stream(refused).closed &&
               c.stream(stalled).status == 200;
    }));
    CHECK(c.stream(reader).status == 200);
    CHECK(c.stream(refused).status == 401);

    // RST_STREAM from the client ends that stream only.
    c.reset(reset);
    REQUIRE(c.pump_until([&] { return c.stream(reset).closed; }));

    // 160 KiB for each stream: more than the stalled stream's window, its
    // send buffer and its queue. The write waits past --write-timeout-ms and
    // the hub drops it (RST_STREAM); the reader gets everything.
    char body_path[] = "/tmp/ssehubd_test_h2_body_XXXXXX";
    const int fd = ::mkstemp(body_path);
    REQUIRE(fd >= 0);
    const std::string body = batch("t", 40, 4096);
    REQUIRE(::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
    ::close(fd);
    curl({"--http2-prior-knowledge", "-XPOST", "--data-binary", std::string("@") + body_path, h2c_url(d, "/publish")});
    ::unlink(body_path);
    REQUIRE(c.pump_until([&] { return c.stream(stalled).closed; }));
    CHECK(c.stream(stalled).error == NGHTTP2_CANCEL);
    curl({"--http2-prior-knowledge", "-XPOST", "-d", R"({"topics":["t"],"data":"after the drop"})", h2c_url(d, "/publish")});
    REQUIRE(c.pump_until([&] { return has(c, reader, "data: after the drop"); }));
    CHECK(by_curl.wait_output("data: after the drop"));
    CHECK(!c.goaway);

    // A header list over --h2-max-header-list (16384): 431 on that stream; the
    // connection goes on.
    const auto big = c.request("GET", "/healthz", {{"x-big", std::string(20000, 'b')}});
    const auto health = c.request("GET", "/healthz");
    REQUIRE(c.pump_until([&] { return c.stream(big).closed && c.stream(health).closed; }));
    CHECK(c.stream(big).status == 431);
    CHECK(c.stream(health).status == 200);

    // A request whose body never comes (HEADERS without END_STREAM): 408
    // after --head-timeout-ms, on that stream only.
    const auto slow = c.request("POST", "/publish", {}, true, /*end_stream=*/false);
    REQUIRE(c.pump_until([&] { return c.stream(slow).closed; }));
    CHECK(c.stream(slow).status == 408);

    // Garbage after the preface: GOAWAY (a protocol error), then the close.
    {
        test::h2_client g(p);
        g.raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");  // read as a frame header: far over the frame size
        REQUIRE(g.pump_until([&] { return g.eof; }));
        CHECK(g.goaway);
        CHECK(g.goaway_error != NGHTTP2_NO_ERROR);
    }
    // HTTP/1.1 on the h2c port: no preface, closed without an answer.
    {
        test::client h1;
        h1.connect(p);
        h1.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        REQUIRE(h1.read_until([&] { return h1.eof(); }));
        CHECK(h1.raw.find("HTTP/1.1") == std::string::npos);
    }

    // Rapid reset: HEADERS then RST_STREAM, over and over, past
    // --h2-reset-burst: GOAWAY, then the close.
    {
        test::h2_client r(p);
        for (int i = 0; i < 200 && !r.write_failed; ++i) {
            const auto id = r.request("GET", "/healthz");
            r.flush();  // HEADERS out first (nghttp2 drops a request reset before it was sent)
            r.reset(id);
            r.flush();
        }
        REQUIRE(r.pump_until([&] { return r.goaway; }));
        CHECK(r.goaway_error == NGHTTP2_ENHANCE_YOUR_CALM);
    }

    // Meanwhile the first connection was served throughout.
    curl({"--http2-prior-knowledge", "-XPOST", "-d", R"({"topics":["t"],"data":"still here"})", h2c_url(d, "/publish")});
    REQUIRE(c.pump_until([&] { return has(c, reader, "data: still here"); }));
    const std::string metrics = curl({"--http2-prior-knowledge", h2c_url(d, "/metrics")});
    CHECK(metrics.find("ssehubd_h2_connections_open ") != std::string::npos);
    CHECK(metrics.find("ssehubd_h2_streams_total ") != std::string::npos);

    // Drain: every stream gets server-shutdown, then the connection GOAWAY (NO_ERROR).
    d.signal(SIGTERM);
    REQUIRE(c.pump_until([&] { return c.goaway; }));
    CHECK(has(c, reader, "event: server-shutdown"));
    CHECK(c.goaway_error == NGHTTP2_NO_ERROR);
    CHECK(c.stream(reader).closed);
    CHECK(d.wait_exit(20s) == 0);
}

#endif
