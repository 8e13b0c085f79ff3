// ssehub::redis on the binary's one real Redis Cluster of three masters
// (redis_cluster::shared()), in process: slots against CLUSTER KEYSLOT, the
// cluster client following MOVED and ASK while a slot moves, and the
// interest-based subscriber following a hub's clients.
#include "cluster.hpp"
#include "redis_cluster.hpp"
#include "support/harness.hpp"

#include <ssehub/fan_out.hpp>
#include <ssehub/redis/redis.hpp>

#include <asio/co_spawn.hpp>
#include <asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <thread>

namespace {

using namespace std::chrono_literals;
namespace sr = ssehub::redis;

}  // namespace

TEST_CASE("key_slot agrees with the cluster's CLUSTER KEYSLOT", "[redis][cluster]") {
    auto& cl = redis_test::redis_cluster::shared();
    const std::vector<std::string> keys{"",          "foo",          "123456789",       "{user1000}.following",
                                        "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}",  "{ssehub}:stream",
                                        "{ssehub:t:orders.eu}", "ssehub:ticket:abc", "{", "}{x}", std::string("\xff\x00\x80", 3)};
    for (const auto& k : keys) {
        const auto r = redis_test::command(cl.port(cl.owner(0)), {"CLUSTER", "KEYSLOT", k});
        INFO(k);
        CHECK(sr::key_slot(k) == r.integer);
    }
    CHECK(sr::key_slot("123456789") == 0x31C3 % 16384);  // the spec's CRC16 check value
}

TEST_CASE("cluster_client follows MOVED and ASK while a slot moves between masters", "[redis][cluster]") {
    auto& cl = redis_test::redis_cluster::shared();
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread t([&] { io.run(); });
    auto opts = *sr::parse_redis_cluster(cl.seeds());
    auto c = std::make_shared<sr::detail::cluster_client>(io.get_executor(), opts);
    auto exec = [&](std::vector<std::string> args) {
        return asio::co_spawn(io, c->exec(std::move(args)), asio::use_future).get();
    };
    const std::string key = "{moved-test}:k", other_key = "{moved-test}:new";
    const auto slot = sr::key_slot(key);
    const int owner = cl.owner(slot), to = cl.other_master(owner);

    CHECK(exec({"SET", key, "v1"}).str == "OK");
    CHECK(c->refreshes() == 1);
    CHECK(exec({"DEL", key}).integer == 1);  // an empty slot moves without migrating keys
    cl.assign(slot, to);
    // The client still maps the slot to `owner`: MOVED sends it to `to`.
    CHECK(exec({"SET", key, "v2"}).str == "OK");
    CHECK(redis_test::command(cl.port(to), {"GET", key}).str == "v2");
    CHECK(test::poll_until([&] { return c->refreshes() >= 2; }, 5s));  // and the map is read again

    // Migrating back: `to` still serves its keys, new keys are ASKed to `owner`.
    CHECK(redis_test::command(cl.port(owner), {"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", cl.id(to)}).str == "OK");
    CHECK(redis_test::command(cl.port(to), {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", cl.id(owner)}).str == "OK");
    CHECK(exec({"SET", other_key, "asked"}).str == "OK");
    CHECK(exec({"GET", other_key}).str == "asked");
    CHECK(exec({"GET", key}).str == "v2");
    // exec_many groups by shard and redoes a redirected command alone.
    const auto many = asio::co_spawn(io, c->exec_many({{"GET", other_key}, {"GET", key}, {"PING"}}), asio::use_future).get();
    REQUIRE(many.size() == 3);
    CHECK(many[0].str == "asked");
    CHECK(many[1].str == "v2");
    CHECK(many[2].str == "PONG");

    CHECK(exec({"DEL", key}).integer == 1);
    CHECK(exec({"DEL", other_key}).integer == 1);
    cl.assign(slot, owner);
    CHECK(test::poll_until([&] { return cl.all_ok(); }, 10s));
    c->close();
    work.reset();
    t.join();
}

TEST_CASE("redis_cluster_subscriber follows the hub's clients: a topic's channel on its shard while a client wants it, "
          "{P}:all for a wildcard, copies dropped by id",
          "[redis][cluster]") {
    auto& cl = redis_test::redis_cluster::shared();
    const auto opts = *sr::parse_redis_cluster(cl.seeds());
    const sr::sharded_channels names{"inproc"};
    test::server srv;
    sr::redis_cluster_subscriber sub(opts, srv.hub(), {"inproc"});
    const auto& counters = sub.counters();  // shared with the copy the bridge runs
    auto bridge = ssehub::fan_out(srv.hub(), sub, sr::redis_fan_out_config());
    REQUIRE(test::poll_until([&] { return counters.conn.connected.load() && counters.channels.load() == 1; }, 20s));  // {P}:groups
    sr::redis_publisher_config pc;
    pc.sharded_prefix = "inproc";
    pc.stream = names.key("stream");
    pc.id_key_prefix = names.key("id:");
    sr::redis_publisher pub(srv.context().get_executor(), opts, pc);
    auto publish = [&](std::string topic, std::string data) {
        ssehub::event ev;
        ev.topics = {std::move(topic)};
        ev.data = std::move(data);
        auto r = asio::co_spawn(srv.context(), pub.async_publish(std::move(ev)), asio::use_future).get();
        REQUIRE_FALSE(r.ec);
        return r.id;
    };
    {
        test::client exact;
        exact.get(srv.port(), "/events?topics=orders");
        REQUIRE(exact.wait_events(1));
        REQUIRE(test::poll_until([&] { return counters.channels.load() == 2; }, 20s));
        const std::string first = publish("orders", "1");
        CHECK(sr::is_stream_id(first));
        publish("other", "not wanted here");
        REQUIRE(exact.wait_events(2, 20s));
        CHECK(exact.events[1].id == first);
        {
            test::client wild;
            wild.get(srv.port(), "/events?topics=orders.*,orders");
            REQUIRE(wild.wait_events(1));
            REQUIRE(test::poll_until([&] { return counters.channels.load() == 3; }, 20s));
            publish("orders", "2");  // on {P:t:orders} and {P}:all: one copy dropped
            REQUIRE(wild.wait_events(2, 20s));
            REQUIRE(exact.wait_events(3, 20s));
            CHECK(wild.events[1].data == "2");
            CHECK(exact.events[2].data == "2");
            CHECK(test::poll_until([&] { return counters.duplicates.load() == 1; }, 5s));
            CHECK(counters.messages.load() == 3);  // 1 (topic), 2 (topic and all); never "other"
        }
        // The wildcard client gone: {P}:all is dropped.
        REQUIRE(test::poll_until([&] { return counters.channels.load() == 2; }, 20s));
    }
    REQUIRE(test::poll_until([&] { return counters.channels.load() == 1; }, 20s));
    CHECK(counters.slot_moves.load() == 0);
    bridge.stop();
}
