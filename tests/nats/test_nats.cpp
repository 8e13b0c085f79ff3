// ssehub::nats against a real nats-server (one for the binary; the restart
// case starts its own): two hubs ("nodes") on it, each bridged with an
// interest-based nats_subscriber; exactly-once delivery across nodes,
// wildcards and overlapping patterns, interest (a node receives only its
// clients' subjects), and a NATS restart under connected clients.
#include "nats_node.hpp"
#include "nats_server.hpp"
#include "support/harness.hpp"

#include <ssehub/fan_out.hpp>
#include <ssehub/nats/nats.hpp>

#include <catch2/catch.hpp>

namespace {

using namespace std::chrono_literals;
namespace sn = ssehub::nats;
using nats_test::data_until_end;
using nats_test::node;
using nats_test::options_for;
using nats_test::publisher_up;

sn::nats_publish_result publish(sn::nats_publisher& p, std::vector<std::string> topics, std::string data) {
    return p.publish(test::event_on(std::move(topics), std::move(data)));
}

}  // namespace

TEST_CASE("nats: subjects are the topics under a prefix", "[nats]") {
    sn::nats_options o;
    CHECK(sn::subject_of(o, "orders.*") == "ssehub.orders.*");
    CHECK(sn::group_subject(o) == "ssehub_groups");
    o.prefix.clear();
    CHECK(sn::subject_of(o, "a.>") == "a.>");
    CHECK(sn::group_subject(o) == "_ssehub_groups");
}

TEST_CASE("nats: two nodes, published once, a client on each node receives it exactly once", "[nats]") {
    SKIP_WITHOUT_NATS_SERVER();
    const auto o = options_for(nats_test::shared(), "once");
    node a(o), b(o);
    test::client on_a, on_b;
    on_a.get(a.srv.port(), "/events?topics=orders");
    on_b.get(b.srv.port(), "/events?topics=orders");
    REQUIRE(on_a.wait_events(1));
    REQUIRE(on_b.wait_events(1));
    REQUIRE(a.subscribed(2));
    REQUIRE(b.subscribed(2));

    sn::nats_publisher pub(o);
    REQUIRE(publisher_up(pub));
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        const auto r = publish(pub, {"orders"}, std::to_string(i));
        REQUIRE_FALSE(r.ec);
        CHECK(r.messages == 1);
        ids.push_back(r.id);
    }
    REQUIRE_FALSE(publish(pub, {"orders"}, "end").ec);
    const std::vector<std::string> want{"0", "1", "2", "3", "4", "end"};
    CHECK(data_until_end(on_a) == want);  // a duplicate would come before "end": order is kept
    CHECK(data_until_end(on_b) == want);
    CHECK(on_a.events[1].id == ids[0]);  // the same id on every node
    CHECK(on_b.events[1].id == ids[0]);
    CHECK(b.bridge.counters().published.load() == 6);

    // Refused before NATS sees it.
    CHECK(publish(pub, {"bad topic"}, "x").ec == ssehub::error::invalid_topic);
    auto with_id = test::event_on({"orders"}, "x");
    with_id.id = "mine";
    CHECK(pub.publish(with_id).ec == ssehub::error::invalid_event_field);
    CHECK(pub.publish(ssehub::event{}).ec == ssehub::error::no_target);
}

TEST_CASE("nats: wildcards across nodes, overlapping patterns and several topics still deliver once", "[nats]") {
    SKIP_WITHOUT_NATS_SERVER();
    const auto o = options_for(nats_test::shared(), "wild");
    node a(o), b(o);
    test::client star, eu, all;
    star.get(b.srv.port(), "/events?topics=orders.*");
    eu.get(b.srv.port(), "/events?topics=orders.eu");
    all.get(a.srv.port(), "/events?topics=%3E");  // ">"
    REQUIRE(star.wait_events(1));
    REQUIRE(eu.wait_events(1));
    REQUIRE(all.wait_events(1));
    REQUIRE(b.subscribed(3));  // group subject, orders.*, orders.eu
    REQUIRE(a.subscribed(2));

    sn::nats_publisher pub(o);
    REQUIRE(publisher_up(pub));
    REQUIRE_FALSE(publish(pub, {"orders.eu"}, "1").ec);
    REQUIRE_FALSE(publish(pub, {"orders.us"}, "2").ec);
    REQUIRE_FALSE(publish(pub, {"invoices.x"}, "3").ec);
    const auto two = publish(pub, {"orders.eu", "invoices.y"}, "4");
    REQUIRE_FALSE(two.ec);
    CHECK(two.messages == 2);
    REQUIRE_FALSE(publish(pub, {"orders.eu"}, "end").ec);
    CHECK(data_until_end(star) == std::vector<std::string>{"1", "2", "4", "end"});
    CHECK(data_until_end(eu) == std::vector<std::string>{"1", "4", "end"});
    CHECK(data_until_end(all) == std::vector<std::string>{"1", "2", "3", "4", "end"});
    // Node B got the copies NATS sends per matching subscription and dropped them by id.
    // (Each subscription's copies come in their own order: poll for the last ones.)
    CHECK(test::poll_until([&] { return b.nats().messages.load() == 7; }));  // 1, 4, end twice (orders.* and orders.eu); 2 once
    CHECK(test::poll_until([&] { return b.nats().duplicates.load() == 3; }));
    CHECK(test::poll_until([&] { return a.nats().duplicates.load() == 1; }));  // event 4 on both of its subjects
}

TEST_CASE("nats: interest, a node with a client on 1 of 1,000 topics receives only that subject", "[nats]") {
    SKIP_WITHOUT_NATS_SERVER();
    const auto o = options_for(nats_test::shared(), "interest");
    node b(o);
    REQUIRE(b.subscribed(1));  // the group subject only: nothing asked for yet
    {
        test::client c;
        c.get(b.srv.port(), "/events?topics=t.7");
        REQUIRE(c.wait_events(1));
        REQUIRE(b.subscribed(2));

        sn::nats_publisher pub(o);
        REQUIRE(publisher_up(pub));
        for (int i = 0; i < 1000; ++i) REQUIRE_FALSE(publish(pub, {"t." + std::to_string(i)}, "x" + std::to_string(i)).ec);
        REQUIRE_FALSE(publish(pub, {"t.7"}, "end").ec);  // one connection: NATS keeps its order
        CHECK(data_until_end(c) == std::vector<std::string>{"x7", "end"});
        CHECK(b.nats().messages.load() == 2);  // not 1,001
    }
    // The last client left: the node unsubscribes.
    CHECK(b.subscribed(1));
}

TEST_CASE("nats: the server restarts under connected clients, nodes keep serving and resume", "[nats]") {
    SKIP_WITHOUT_NATS_SERVER();
    nats_test::nats_server server;  // its own: this one is killed
    const auto o = options_for(server, "restart");
    node b(o);
    test::client c;
    c.get(b.srv.port(), "/events?topics=orders");
    REQUIRE(c.wait_events(1));
    REQUIRE(b.subscribed(2));
    sn::nats_publisher pub(o);
    REQUIRE(publisher_up(pub));
    REQUIRE_FALSE(publish(pub, {"orders"}, "before").ec);
    REQUIRE(data_until_end(c, "before") == std::vector<std::string>{"before"});

    server.stop();
    CHECK(test::poll_until([&] { return !pub.counters().connected.load(); }, 20s));
    REQUIRE(test::poll_until([&] { return !b.nats().connected.load(); }, 20s));
    CHECK(publish(pub, {"orders"}, "lost").ec == std::errc::connection_refused);  // a daemon answers 503
    // The node still serves its clients: a local publish reaches the stream.
    b.srv.publish_sync(test::event_on({"orders"}, "local"));
    REQUIRE(data_until_end(c, "local") == std::vector<std::string>{"before", "local"});
    test::client late;  // and takes new ones
    late.get(b.srv.port(), "/events?topics=orders");
    REQUIRE(late.wait_events(1));

    REQUIRE(server.start());
    REQUIRE(publisher_up(pub));
    REQUIRE(b.subscribed(2));  // the C client resubscribed
    CHECK(b.nats().reconnects.load() >= 1);
    CHECK(b.nats().disconnects.load() >= 1);
    REQUIRE_FALSE(publish(pub, {"orders"}, "end").ec);
    CHECK(data_until_end(c) == std::vector<std::string>{"before", "local", "end"});
    CHECK(data_until_end(late) == std::vector<std::string>{"end"});
}
