// Two real ssehubd nodes with --nats on one real nats-server (its own: it is
// killed): exactly-once delivery across nodes with interest-based
// subscriptions, then NATS down (publishes 503 + Retry-After, local clients
// still served) and back (the nodes resume).
#include "daemon_process.hpp"
#include "nats_server.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string>

namespace {

using namespace std::chrono_literals;
using daemon_test::daemon_process;
using daemon_test::get;
using daemon_test::post;
using daemon_test::subscriber;

std::vector<std::string> node_args(const nats_test::nats_server& s, std::string node) {
    return {"--nats", s.url(), "--node-id", std::move(node), "--no-demo", "--heartbeat-ms", "200"};
}

// A sample from /metrics (the first whose name+labels start with `prefix`).
std::uint64_t metric(unsigned short port, const std::string& prefix) {
    const auto body = get(port, "/metrics").body;
    const auto at = body.find("\n" + prefix);
    if (at == std::string::npos) return 0;
    const auto sp = body.find(' ', at + 1 + prefix.size());
    return std::strtoull(body.c_str() + sp + 1, nullptr, 10);
}

std::uint64_t subscriptions(unsigned short port, const std::string& node) {
    return metric(port, "ssehubd_nats_subscriptions{node=\"" + node + "\"}");
}


}  // namespace

TEST_CASE("ssehubd --nats: two nodes deliver once each, NATS down gives 503 and nodes resume", "[nats][daemon]") {
    if (!nats_test::available()) {
        WARN("nats-server is not installed (Debian: apt-get install nats-server): skipped");
        return;
    }
    nats_test::nats_server nats;
    daemon_process a(node_args(nats, "A"));
    daemon_process b(node_args(nats, "B"));
    REQUIRE(test::poll_until([&] { return subscriptions(a.port(), "A") == 1 && subscriptions(b.port(), "B") == 1; }, 20s));

    subscriber on_a(a.port(), "/events?topics=orders.*");
    subscriber on_b(b.port(), "/events?topics=orders.eu");
    REQUIRE(on_a.connected());
    REQUIRE(on_b.connected());
    REQUIRE(test::poll_until([&] { return subscriptions(a.port(), "A") == 2 && subscriptions(b.port(), "B") == 2; }, 20s));
    for (int i = 0; i < 3; ++i) {
        const auto r = post(a.port(), "/publish", R"({"topics":["orders.eu"],"data":")" + std::to_string(i) + "\"}");
        REQUIRE(r.status == 202);
    }
    REQUIRE(post(b.port(), "/publish", R"({"topics":["invoices"],"data":"nobody"})").status == 202);
    // From A too: NATS keeps the order of one connection, not across nodes.
    REQUIRE(post(a.port(), "/publish", R"({"topics":["orders.eu"],"data":"end"})").status == 202);
    const std::vector<std::string> want{"0", "1", "2", "end"};
    CHECK(daemon_test::data_until_end(on_a) == want);
    CHECK(daemon_test::data_until_end(on_b) == want);
    // Interest: node B never received "invoices" from NATS.
    CHECK(metric(b.port(), "ssehubd_nats_messages_total{node=\"B\",result=\"received\"}") == 4);

    nats.stop();
    REQUIRE(test::poll_until([&] { return metric(a.port(), "ssehubd_nats_up{node=\"A\"}") == 0; }, 20s));
    REQUIRE(test::poll_until([&] { return post(a.port(), "/publish", R"({"topics":["orders.eu"],"data":"x"})").status == 503; }, 20s));
    const auto down = post(a.port(), "/publish", R"({"topics":["orders.eu"],"data":"x"})");
    CHECK(down.status == 503);
    CHECK_FALSE(down.header("Retry-After").empty());
    CHECK(get(a.port(), "/healthz").status == 200);
    subscriber late(a.port(), "/events?topics=orders.eu");  // still takes new clients
    REQUIRE(late.connected());

    REQUIRE(nats.start());
    // A: the group subject, orders.* and (the late client's) orders.eu.
    REQUIRE(test::poll_until([&] { return subscriptions(a.port(), "A") == 3 && subscriptions(b.port(), "B") == 2; }, 20s));
    REQUIRE(test::poll_until([&] { return post(b.port(), "/publish", R"({"topics":["orders.eu"],"data":"again"})").status == 202; }, 20s));
    REQUIRE(post(b.port(), "/publish", R"({"topics":["orders.eu"],"data":"end2"})").status == 202);
    CHECK(daemon_test::data_until_end(late, "end2").back() == "end2");
    CHECK(metric(a.port(), "ssehubd_nats_reconnects_total{node=\"A\",conn=\"subscriber\"}") >= 1);
}

TEST_CASE("ssehubd --nats-jetstream: three nodes, publish on any, every subscriber once in order, a killed node's client "
          "resumes on another with Last-Event-ID",
          "[nats][jetstream][daemon]") {
    if (!nats_test::available()) {
        WARN("nats-server is not installed (Debian: apt-get install nats-server): skipped");
        return;
    }
    auto& nats = nats_test::shared();
    auto args = [&](std::string node) {
        auto a = node_args(nats, node);
        a.insert(a.end(), {"--nats-prefix", "jsd", "--nats-jetstream"});
        return a;
    };
    daemon_process a(args("A")), b(args("B"));
    auto c = std::make_unique<daemon_process>(args("C"));
    // The group and multi-topic subjects.
    REQUIRE(test::poll_until([&] { return subscriptions(a.port(), "A") == 2 && subscriptions(b.port(), "B") == 2 && subscriptions(c->port(), "C") == 2; }, 20s));
    subscriber on_a(a.port(), "/events?topics=orders.*");
    subscriber on_b(b.port(), "/events?topics=orders.eu");
    subscriber on_c(c->port(), "/events?topics=orders.eu,invoices.x");
    REQUIRE(on_a.connected());
    REQUIRE(on_b.connected());
    REQUIRE(on_c.connected());
    REQUIRE(test::poll_until([&] { return subscriptions(a.port(), "A") == 3 && subscriptions(b.port(), "B") == 3 && subscriptions(c->port(), "C") == 4; }, 20s));

    // Sequential publishes through every node: the stream orders them, ids are its sequence.
    const unsigned short via[] = {a.port(), b.port(), c->port()};
    std::vector<std::string> ids;
    auto publish = [&](unsigned short port, const std::string& body) {
        const auto r = post(port, "/publish", body);
        REQUIRE(r.status == 202);
        const auto id = nlohmann::json::parse(r.body)["id"].get<std::string>();
        if (!ids.empty()) CHECK(std::stoull(id) > std::stoull(ids.back()));
        ids.push_back(id);
    };
    for (int i = 0; i < 3; ++i) publish(via[i], R"({"topics":["orders.eu"],"data":")" + std::to_string(i) + "\"}");
    publish(b.port(), R"({"topics":["invoices.x","orders.us"],"data":"two"})");
    publish(c->port(), R"({"topics":["orders.eu"],"data":"end"})");
    CHECK(daemon_test::data_until_end(on_a) == std::vector<std::string>{"0", "1", "2", "two", "end"});
    CHECK(daemon_test::data_until_end(on_b) == std::vector<std::string>{"0", "1", "2", "end"});
    CHECK(daemon_test::data_until_end(on_c) == std::vector<std::string>{"0", "1", "2", "two", "end"});
    CHECK(on_b.c.events.back().id == ids.back());
    // A caller's id stays refused (the stream's sequence is the id).
    CHECK(post(a.port(), "/publish", R"({"topics":["orders.eu"],"data":"x","id":"mine"})").status == 400);

    // Node C goes away; its client resumes on B with the last id it saw.
    const std::string last = on_c.c.events.back().id;
    c.reset();
    publish(a.port(), R"({"topics":["invoices.x"],"data":"missed1"})");
    publish(a.port(), R"({"topics":["orders.us"],"data":"not for it"})");
    publish(b.port(), R"({"topics":["orders.eu"],"data":"missed2"})");
    subscriber resumed(b.port(), "/events?topics=orders.eu,invoices.x", "Last-Event-ID: " + last + "\r\n");
    REQUIRE(resumed.connected());
    publish(a.port(), R"({"topics":["orders.eu"],"data":"end2"})");
    CHECK(daemon_test::data_until_end(resumed, "end2") == std::vector<std::string>{"missed1", "missed2", "end2"});
    CHECK(metric(b.port(), "ssehubd_nats_replays_total{node=\"B\",result=\"read\"}") == 1);
    CHECK(metric(b.port(), "ssehubd_nats_replays_total{node=\"B\",result=\"failed\"}") == 0);
}

TEST_CASE("ssehubd --nats-jetstream: the NATS server restarts on its store, publishes 503 meanwhile, nodes recover, "
          "replay across the restart on another node",
          "[nats][jetstream][daemon]") {
    if (!nats_test::available()) {
        WARN("nats-server is not installed (Debian: apt-get install nats-server): skipped");
        return;
    }
    nats_test::nats_server nats;  // its own: it is killed
    auto args = [&](std::string node) {
        auto a = node_args(nats, node);
        a.push_back("--nats-jetstream");
        return a;
    };
    daemon_process a(args("A")), b(args("B"));
    auto stream_ready = [&](unsigned short port, const std::string& node) {
        return metric(port, "ssehubd_nats_stream_ready{node=\"" + node + "\"}") == 1;
    };
    subscriber on_a(a.port(), "/events?topics=orders");
    REQUIRE(on_a.connected());
    REQUIRE(test::poll_until([&] { return subscriptions(a.port(), "A") == 3 && stream_ready(b.port(), "B"); }, 20s));
    auto publish = [&](unsigned short port, const std::string& data) {
        const auto r = post(port, "/publish", R"({"topics":["orders"],"data":")" + data + "\"}");
        REQUIRE(r.status == 202);
        return nlohmann::json::parse(r.body)["id"].get<std::string>();
    };
    const auto first = publish(b.port(), "before1");
    publish(b.port(), "before2");
    REQUIRE(daemon_test::data_until_end(on_a, "before2") == std::vector<std::string>{"before1", "before2"});

    nats.stop();
    REQUIRE(test::poll_until([&] { return post(b.port(), "/publish", R"({"topics":["orders"],"data":"x"})").status == 503; }, 20s));
    const auto down = post(b.port(), "/publish", R"({"topics":["orders"],"data":"x"})");
    CHECK(down.status == 503);
    CHECK_FALSE(down.header("Retry-After").empty());
    CHECK(get(a.port(), "/healthz").status == 200);

    CHECK(test::poll_until([&] { return !stream_ready(b.port(), "B"); }, 20s));
    REQUIRE(nats.start());
    REQUIRE(test::poll_until([&] { return stream_ready(b.port(), "B") && subscriptions(a.port(), "A") == 3; }, 20s));
    REQUIRE(post(b.port(), "/publish", R"({"topics":["orders"],"data":"after"})").status == 202);
    CHECK(daemon_test::data_until_end(on_a, "after") == std::vector<std::string>{"before1", "before2", "after"});
    // B replays from the stream, across the restart: after the first event, the second and "after".
    std::vector<std::string> replayed;
    REQUIRE(test::poll_until(
        [&] {  // the replayer's own connection may still be reconnecting: then `resync`, try again
            subscriber resumed(b.port(), "/events?topics=orders", "Last-Event-ID: " + first + "\r\n");
            if (!resumed.connected() || !resumed.c.read_until([&] { return resumed.c.events.size() >= 3; }, 5s)) return false;
            if (resumed.c.events[1].type == "resync") return false;
            replayed = {resumed.c.events[1].data, resumed.c.events[2].data};
            return true;
        },
        20s));
    CHECK(replayed == std::vector<std::string>{"before2", "after"});
    CHECK(metric(a.port(), "ssehubd_nats_reconnects_total{node=\"A\",conn=\"subscriber\"}") >= 1);
    // No busy loop while it was down: each reconnect round came after a backoff (100 ms, doubling, at most 2 s).
    CHECK(metric(b.port(), "ssehubd_nats_reconnect_rounds_total{node=\"B\",conn=\"publisher\"}") < 50);
}
