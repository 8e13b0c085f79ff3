// Graceful drain on SIGTERM/SIGINT.
#include "daemon_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <memory>

using namespace daemon_test;
using json = nlohmann::json;

TEST_CASE("ssehubd: SIGTERM drains 100 clients: server-shutdown for all, 503 for new ones, exit 0 in time",
          "[daemon][drain]") {
    constexpr int drain_ms = 5000;
    daemon_process d({"--drain-timeout-ms", std::to_string(drain_ms), "--max-body", "2000000", "--write-timeout-ms",
                      "60000", "--retry-ms", "2000"});
    const auto p = d.port();

    std::vector<std::unique_ptr<subscriber>> clients;
    for (int i = 0; i < 100; ++i) {
        clients.push_back(std::make_unique<subscriber>(p, "/events?topics=news"));
        REQUIRE(clients.back()->connected());
    }

    // One client that never reads, with megabytes queued behind a tiny receive
    // window: it holds the drain open until the deadline, so the daemon's
    // draining state can be observed from outside.
    asio::ip::tcp::socket stuck(test::client::shared_io());
    stuck.open(asio::ip::tcp::v4());
    stuck.set_option(asio::socket_base::receive_buffer_size(4096));
    stuck.connect({asio::ip::make_address("127.0.0.1"), p});
    asio::write(stuck, asio::buffer(std::string("GET /events?topics=stuck HTTP/1.1\r\nHost: x\r\n\r\n")));
    REQUIRE(test::poll_until([&] {
        return json::parse(get(p, "/stats").body)["connections"]["active"].get<int>() == 101;
    }));
    const std::string chunk = R"({"topics":["stuck"],"data":")" + std::string(1000000, 'x') + "\"}";
    for (int i = 0; i < 16; ++i) REQUIRE(post(p, "/publish", chunk).status == 202);

    const auto t0 = clock::now();
    d.signal(SIGTERM);

    // Every connected client gets the shutdown event, then the end of its stream.
    for (auto& c : clients) {
        auto ev = c->wait_for("server-shutdown", 10s);
        REQUIRE(ev);
        CHECK(c->c.wait_closed(10s));
    }

    // While draining: not ready, new subscribers and publishes refused with Retry-After.
    auto ready = get(p, "/readyz");
    CHECK(ready.status == 503);
    CHECK(ready.header("Retry-After") == "2");
    auto late = get(p, "/events?topics=news");
    CHECK(late.status == 503);
    CHECK(late.header("Retry-After") == "2");
    auto pub = post(p, "/publish", R"({"topics":["news"],"data":"late"})");
    CHECK(pub.status == 503);
    CHECK(!pub.header("Retry-After").empty());
    CHECK(get(p, "/healthz").status == 200);  // alive while draining
    CHECK(json::parse(get(p, "/stats").body)["draining"] == true);

    d.signal(SIGTERM);  // twice is harmless

    const auto code = d.wait_exit(std::chrono::milliseconds(drain_ms) + 10s);
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    const auto elapsed = clock::now() - t0;
    CHECK(elapsed < std::chrono::milliseconds(drain_ms) + 3s);
    const auto log = d.log();
    CHECK(log.find("\"msg\":\"drain\"") != std::string::npos);
    CHECK(log.find("\"msg\":\"stopped\"") != std::string::npos);
}

TEST_CASE("ssehubd: SIGINT with idle clients exits 0 at once", "[daemon][drain]") {
    daemon_process d({"--drain-timeout-ms", "20000"});
    subscriber a(d.port(), "/events?topics=x");
    REQUIRE(a.connected());
    const auto t0 = clock::now();
    d.signal(SIGINT);
    REQUIRE(a.wait_for("server-shutdown"));
    CHECK(a.c.wait_closed(10s));
    const auto code = d.wait_exit(20s);
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK(clock::now() - t0 < 10s);  // did not wait for the drain deadline
}
