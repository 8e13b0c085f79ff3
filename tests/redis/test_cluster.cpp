// Real ssehubd nodes with --redis-cluster on the binary's one Redis Cluster
// (redis_cluster::shared()): exactly-once and ordered delivery across nodes,
// interest routing (a node receives only its clients' topics), wildcards,
// replay on another node after a node dies, dropped shard connections, a
// moved slot, a single Redis 7, a cluster that is down, a master failover.
// Each test uses its own --redis-prefix, so their Streams never mix.
#include "ssehub/redis/cluster.hpp"

#include "node_helpers.hpp"
#include "redis_cluster.hpp"
#include "redis_server.hpp"

#include <catch2/catch.hpp>

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
namespace sr = ssehub::redis;

std::vector<std::string> cluster_node(const std::string& prefix, std::string node, std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"--redis-cluster", redis_test::redis_cluster::shared().seeds(), "--redis-prefix", prefix,
                               "--node-id", std::move(node), "--no-demo", "--redis-ready", "--heartbeat-ms", "200"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

std::uint64_t channels(unsigned short port) { return metric(port, "ssehubd_redis_cluster_channels{"); }

// The data of every event after `connected`, once `end` has come.
std::vector<std::string> all_until_end(subscriber& s) { return data_until_end(s); }

}  // namespace

TEST_CASE("three ssehubd nodes on a Redis Cluster: published on any node, every subscriber receives each event once, "
          "in order; wildcard clients across nodes",
          "[redis][cluster][scale_out]") {
    daemon_process a(cluster_node("ex1", "A")), b(cluster_node("ex1", "B")), c(cluster_node("ex1", "C"));
    REQUIRE(test::poll_until([&] { return ready(a.port()) && ready(b.port()) && ready(c.port()); }, 20s));
    subscriber on_a(a.port(), "/events?topics=orders");
    subscriber on_b(b.port(), "/events?topics=orders.*");
    subscriber on_c(c.port(), "/events?topics=orders,orders.*");
    REQUIRE((on_a.connected() && on_b.connected() && on_c.connected()));
    // {P}:groups, plus {P:t:orders} (A), {P}:all (B), both (C)
    REQUIRE(test::poll_until([&] { return channels(a.port()) == 2 && channels(b.port()) == 2 && channels(c.port()) == 3; }, 20s));

    const unsigned short ports[3] = {a.port(), b.port(), c.port()};
    std::vector<std::string> exact, wild, both;
    for (int i = 0; i < 12; ++i) {
        const std::string topic = i % 2 ? "orders.eu" : "orders", data = "e" + std::to_string(i);
        publish(ports[i % 3], R"({"topics":[")" + topic + R"("],"data":")" + data + "\"}");
        (i % 2 ? wild : exact).push_back(data);
        both.push_back(data);
    }
    publish(b.port(), R"({"topics":["orders","orders.eu"],"data":"end"})");  // on two channels and {P}:all
    for (auto* v : {&exact, &wild, &both}) v->push_back("end");
    CHECK(all_until_end(on_a) == exact);
    CHECK(all_until_end(on_b) == wild);
    CHECK(all_until_end(on_c) == both);
    CHECK(metric(c.port(), "ssehubd_redis_cluster_messages_total{node=\"C\",result=\"duplicate\"}") >= 7);
    CHECK(metric(c.port(), "ssehub_events_published_total") == metric(b.port(), "ssehub_events_published_total"));
}

TEST_CASE("interest routing: a node whose client wants 1 of 1,000 topics receives only that topic's traffic",
          "[redis][cluster][scale_out]") {
    daemon_process pub(cluster_node("ex2", "P")), one(cluster_node("ex2", "ONE")), wild(cluster_node("ex2", "WILD"));
    REQUIRE(test::poll_until([&] { return ready(pub.port()) && ready(one.port()) && ready(wild.port()); }, 20s));
    subscriber s1(one.port(), "/events?topics=t.500");
    subscriber sw(wild.port(), "/events?topics=t.*");
    REQUIRE((s1.connected() && sw.connected()));
    REQUIRE(test::poll_until([&] { return channels(one.port()) == 2 && channels(wild.port()) == 2; }, 20s));

    std::string batch = "[";
    for (int i = 0; i < 1000; ++i)
        batch += std::string(i ? "," : "") + R"({"topics":["t.)" + std::to_string(i) + R"("],"data":")" + std::to_string(i) + "\"}";
    batch += "]";
    REQUIRE(post(pub.port(), "/publish", batch).status == 202);
    publish(pub.port(), R"({"topics":["t.500"],"data":"end"})");
    CHECK(all_until_end(s1) == std::vector<std::string>{"500", "end"});
    CHECK(all_until_end(sw).size() == 1001);
    CHECK(metric(one.port(), "ssehubd_redis_cluster_messages_total{node=\"ONE\",result=\"received\"}") == 2);
    CHECK(metric(wild.port(), "ssehubd_redis_cluster_messages_total{node=\"WILD\",result=\"received\"}") == 1001);
    CHECK(metric(pub.port(), "ssehubd_redis_cluster_messages_total{node=\"P\",result=\"received\"}") == 0);
    CHECK(metric(one.port(), "ssehubd_redis_cluster_bytes_total{") < 400);
}

TEST_CASE("on a Redis Cluster, node A dies and its client reconnects to B with Last-Event-ID: exactly what it missed",
          "[redis][cluster][scale_out]") {
    auto a = std::make_unique<daemon_process>(cluster_node("ex3", "A"));
    daemon_process b(cluster_node("ex3", "B"));
    REQUIRE(test::poll_until([&] { return ready(a->port()) && ready(b.port()); }, 20s));
    std::string x;
    {
        subscriber s(a->port(), "/events?topics=orders.eu,invoices");
        REQUIRE(s.connected());
        REQUIRE(test::poll_until([&] { return channels(a->port()) == 3; }, 20s));
        x = publish(b.port(), R"({"topics":["orders.eu"],"data":"X"})");
        auto got = s.wait_for("message");
        REQUIRE(got);
        CHECK(got->id == x);
        a->signal(SIGKILL);
        REQUIRE(a->wait_exit(20s));
    }
    a.reset();
    publish(b.port(), R"({"topics":["orders.eu"],"data":"m1"})");
    publish(b.port(), R"({"topics":["other"],"data":"not subscribed"})");
    publish(b.port(), R"({"topics":["invoices"],"data":"m2","group":{"tenant_id":"t2"}})");  // another tenant's
    publish(b.port(), R"({"topics":["invoices"],"data":"m3"})");
    subscriber again(b.port(), "/events?topics=orders.eu,invoices", "Last-Event-ID: " + x + "\r\n");
    REQUIRE(again.connected());
    publish(b.port(), R"({"topics":["orders.eu"],"data":"end"})");
    CHECK(all_until_end(again) == std::vector<std::string>{"m1", "m3", "end"});
}

TEST_CASE("on a Redis Cluster, dropped shard connections are re-established from a fresh slot map; a cluster that is "
          "down gives 503 and the node keeps serving",
          "[redis][cluster][scale_out]") {
    auto& cl = redis_test::redis_cluster::shared();
    daemon_process a(cluster_node("ex4", "A"));
    REQUIRE(test::poll_until([&] { return ready(a.port()); }, 20s));
    subscriber s(a.port(), "/events?topics=orders,invoices");
    REQUIRE(s.connected());
    REQUIRE(test::poll_until([&] { return channels(a.port()) == 3; }, 20s));
    for (int i = 0; i < cl.size(); ++i)
        if (cl.alive(i)) redis_test::command(cl.port(i), {"CLIENT", "KILL", "TYPE", "pubsub"});
    REQUIRE(test::poll_until([&] { return metric(a.port(), "ssehubd_fanout_reconnects_total{") >= 1 && channels(a.port()) == 3; }, 20s));
    publish(a.port(), R"({"topics":["invoices"],"data":"after"})");
    publish(a.port(), R"({"topics":["orders"],"data":"end"})");
    CHECK(all_until_end(s) == std::vector<std::string>{"after", "end"});

    // Seeds where nothing listens: the node serves, refuses publishes with 503, is not ready.
    daemon_process down({"--redis-cluster", "127.0.0.1:" + std::to_string(test::free_port()), "--redis-prefix", "ex4",
                         "--node-id", "D", "--no-demo", "--redis-ready"});
    subscriber local(down.port(), "/events?topics=orders");
    CHECK(local.connected());
    CHECK(get(down.port(), "/healthz").status == 200);
    CHECK(get(down.port(), "/readyz").status == 503);
    const auto r = post(down.port(), "/publish", R"({"topics":["orders"],"data":1})");
    CHECK(r.status == 503);
    CHECK(metric(down.port(), "ssehubd_redis_up{") == 0);
}

TEST_CASE("on a Redis Cluster, a topic's slot moves to another master: the node is unsubscribed there and resubscribes "
          "on the new owner",
          "[redis][cluster][scale_out]") {
    auto& cl = redis_test::redis_cluster::shared();
    daemon_process a(cluster_node("ex5", "A")), b(cluster_node("ex5", "B"));
    REQUIRE(test::poll_until([&] { return ready(a.port()) && ready(b.port()); }, 20s));
    subscriber s(a.port(), "/events?topics=moving");
    REQUIRE(s.connected());
    REQUIRE(test::poll_until([&] { return channels(a.port()) == 2; }, 20s));
    const auto slot = sr::key_slot(sr::sharded_channels{"ex5"}.topic("moving"));
    const int owner = cl.owner(slot);
    cl.assign(slot, cl.other_master(owner));  // a channel has no keys: the slot moves at once
    REQUIRE(test::poll_until(
        [&] { return metric(a.port(), "ssehubd_redis_cluster_slot_moves_total{") >= 1 && channels(a.port()) == 2; }, 20s));
    publish(b.port(), R"({"topics":["moving"],"data":"moved"})");  // B's publisher follows the MOVED
    publish(b.port(), R"({"topics":["moving"],"data":"end"})");
    CHECK(all_until_end(s) == std::vector<std::string>{"moved", "end"});
    cl.assign(slot, owner);
}

TEST_CASE("--redis-cluster on a single Redis 7 (no cluster support): one shard of every slot, still interest-routed",
          "[redis][cluster][scale_out]") {
    redis_test::redis_server redis;
    const std::string seed = "127.0.0.1:" + std::to_string(redis.port());
    daemon_process a({"--redis-cluster", seed, "--node-id", "A", "--no-demo", "--redis-ready"});
    daemon_process b({"--redis-cluster", seed, "--node-id", "B", "--no-demo", "--redis-ready"});
    REQUIRE(test::poll_until([&] { return ready(a.port()) && ready(b.port()); }, 20s));
    subscriber s(b.port(), "/events?topics=orders");
    REQUIRE(s.connected());
    REQUIRE(test::poll_until([&] { return channels(b.port()) == 2; }, 20s));
    const std::string first = publish(a.port(), R"({"topics":["orders"],"data":"one"})");
    publish(a.port(), R"({"topics":["other"],"data":"not for B"})");
    publish(a.port(), R"({"topics":["orders"],"data":"end"})");
    CHECK(all_until_end(s) == std::vector<std::string>{"one", "end"});
    CHECK(metric(b.port(), "ssehubd_redis_cluster_messages_total{node=\"B\",result=\"received\"}") == 2);
    subscriber again(a.port(), "/events?topics=orders", "Last-Event-ID: " + first + "\r\n");
    CHECK(all_until_end(again) == std::vector<std::string>{"end"});
}

// Last: it kills a master (the cluster then runs on its replica).
TEST_CASE("on a Redis Cluster, the master of the sequencer slot dies: its replica takes over, nodes re-read the map, "
          "publishes resume and the Stream replays across the failover",
          "[redis][cluster][scale_out]") {
    auto& cl = redis_test::redis_cluster::shared();
    const std::string prefix = "failover";  // its {prefix} slot holds the Stream and runs the publish script
    const int master = cl.owner(sr::key_slot(prefix));
    const int replica = cl.add_replica(master);
    // --redis-wait-replicas 1 on B and C: a publish is answered once the
    // replica has it (C waits 200 ms at most, B long enough for any machine);
    // A publishes without waiting (after the failover there is no replica).
    daemon_process a(cluster_node(prefix, "A")),
        b(cluster_node(prefix, "B", {"--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "10000"})),
        c(cluster_node(prefix, "C", {"--redis-wait-replicas", "1", "--redis-wait-timeout-ms", "200"}));
    REQUIRE(test::poll_until([&] { return ready(a.port()) && ready(b.port()) && ready(c.port()); }, 20s));
    subscriber s(a.port(), "/events?topics=orders");
    REQUIRE(s.connected());
    REQUIRE(test::poll_until([&] { return channels(a.port()) == 2; }, 20s));
    const std::string before = publish(b.port(), R"({"topics":["orders"],"data":"before"})");
    REQUIRE(s.wait_for("message"));
    // The replica stops answering: the write is on the master only, and the
    // publisher is told so (503), not "published".
    cl.freeze(replica, true);
    const auto unconfirmed = post(c.port(), "/publish", R"({"topics":["orders"],"data":"unconfirmed"})");
    cl.freeze(replica, false);
    CHECK(unconfirmed.status == 503);
    CHECK(unconfirmed.body.find("0 of 1 replicas confirmed") != std::string::npos);
    // Answered 202 only once the replica has it (and, in order, what came
    // before): the master may die right after.
    publish(b.port(), R"({"topics":["orders"],"data":"replicated"})");

    cl.kill(master);
    // Redis fails over by itself after cluster-node-timeout and an election;
    // FORCE starts the election at once (what an operator or a watchdog does).
    CHECK(redis_test::command(cl.port(replica), {"CLUSTER", "FAILOVER", "FORCE"}).str == "OK");
    // (ROLE answers an error while the replica is in the middle of it.)
    REQUIRE(test::poll_until(
        [&] {
            const auto role = redis_test::command(cl.port(replica), {"ROLE"});
            return !role.elements.empty() && role.elements[0].str == "master";
        },
        20s));
    // Publishes fail (503) until the publisher has the new map; a 503 here
    // means "not published" (the connect was refused).
    std::string after;
    REQUIRE(test::poll_until(
        [&] {
            const auto r = post(a.port(), "/publish", R"({"topics":["orders"],"data":"after"})");
            if (r.status == 202) after = r.body;
            return r.status == 202;
        },
        20s));
    publish(a.port(), R"({"topics":["orders"],"data":"end"})");
    // Live: A's subscription was on the dead master (the {P}:groups channel)
    // or not; it is back either way, and replay fills what it missed live.
    subscriber again(b.port(), "/events?topics=orders", "Last-Event-ID: " + before + "\r\n");
    REQUIRE(again.connected());
    // ("unconfirmed" too: it was on the master, and replicated before "replicated" was confirmed.)
    // ("unconfirmed" too: it was on the master, only not confirmed by the replica in time.)
    CHECK(all_until_end(again) == std::vector<std::string>{"unconfirmed", "replicated", "after", "end"});
    REQUIRE(test::poll_until([&] { return ready(a.port()) && channels(a.port()) == 2; }, 20s));
}
