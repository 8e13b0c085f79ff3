// ssehub::nats with JetStream against a real nats-server (-js, its store in
// a temporary directory): three hubs ("nodes") on one stream; ids are stream
// sequences on every node, publishes from any node reach every subscriber
// once and in order (wildcards and events with several topics included), a
// node receives only its clients' subjects, a client of a node that went
// away resumes on another with Last-Event-ID (exactly the missed events),
// and a NATS restart on the same store keeps the stream, the replay and the
// nodes (no busy loop while it is down).
#include "nats_node.hpp"

#include <asio/co_spawn.hpp>
#include <asio/use_future.hpp>

#include <future>
#include <thread>

namespace {

using namespace std::chrono_literals;
namespace sn = ssehub::nats;
using nats_test::data_until_end;
using nats_test::jetstream_options_for;
using nats_test::node;

// A JetStream publisher with an event loop of its own (async_publish waits for the ack there).
struct js_publisher {
    explicit js_publisher(const sn::nats_options& o) : pub(o), work(asio::make_work_guard(io)), loop([this] { io.run(); }) {}
    ~js_publisher() {
        work.reset();
        loop.join();
    }
    sn::nats_publish_result publish(std::vector<std::string> topics, std::string data) {
        return asio::co_spawn(io, pub.async_publish(test::event_on(std::move(topics), std::move(data))), asio::use_future).get();
    }
    bool ready() { return test::poll_until([&] { return pub.ready(); }, 20s); }

    asio::io_context io;
    sn::nats_publisher pub;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::thread loop;
};

// The ids of the events after `connected`, up to and including the one with data `end`.
std::vector<std::string> ids_until(const test::client& c, const std::string& end) {
    std::vector<std::string> out;
    for (const auto& e : c.events) {
        if (e.type == "connected") continue;
        out.push_back(e.id);
        if (e.data == end) break;
    }
    return out;
}

}  // namespace

TEST_CASE("nats jetstream: three nodes, publishes from any node reach every subscriber once, in order, ids = stream sequence",
          "[nats][jetstream]") {
    SKIP_WITHOUT_NATS_SERVER();
    const auto o = jetstream_options_for(nats_test::shared(), "js3");
    js_publisher pa(o), pb(o), pc(o);  // one per node: "publish on any node"
    REQUIRE(pa.ready());
    REQUIRE(pb.ready());
    REQUIRE(pc.ready());
    node a(o), b(o), c(o);
    test::client eu, star, all, two;
    eu.get(a.srv.port(), "/events?topics=orders.eu");
    star.get(b.srv.port(), "/events?topics=orders.*");
    all.get(c.srv.port(), "/events?topics=%3E");  // ">"
    two.get(c.srv.port(), "/events?topics=orders.eu,invoices.x");
    for (auto* cl : {&eu, &star, &all, &two}) REQUIRE(cl->wait_events(1));
    REQUIRE(a.subscribed(3));  // the group and multi-topic subjects, orders.eu
    REQUIRE(b.subscribed(3));
    REQUIRE(c.subscribed(5));

    std::vector<std::string> ids;
    for (auto [p, topics, data] : {std::tuple{&pa, std::vector<std::string>{"orders.eu"}, "1"},
                                   {&pb, {"orders.us"}, "2"},
                                   {&pc, {"invoices.x"}, "3"},
                                   {&pa, {"orders.eu", "invoices.x"}, "4"},  // one stream message, one id
                                   {&pb, {"orders.eu"}, "end"}}) {
        const auto r = p->publish(topics, data);
        REQUIRE_FALSE(r.ec);
        CHECK(r.messages == 1);
        ids.push_back(r.id);
    }
    for (std::size_t i = 1; i < ids.size(); ++i) CHECK(std::stoull(ids[i]) == std::stoull(ids[i - 1]) + 1);
    CHECK(data_until_end(eu) == std::vector<std::string>{"1", "4", "end"});
    CHECK(data_until_end(star) == std::vector<std::string>{"1", "2", "4", "end"});
    CHECK(data_until_end(all) == std::vector<std::string>{"1", "2", "3", "4", "end"});
    CHECK(data_until_end(two) == std::vector<std::string>{"1", "3", "4", "end"});
    // The id a client sees is the stream sequence the publisher got, on every node.
    CHECK(ids_until(eu, "end") == std::vector<std::string>{ids[0], ids[3], ids[4]});
    CHECK(ids_until(all, "end") == ids);
    // Node C: event 4 came once (on the multi-topic subject); 1, 3 and end twice (">" and their topic's).
    CHECK(test::poll_until([&] { return c.nats().duplicates.load() == 3; }));
    CHECK(a.nats().duplicates.load() == 0);

    // Refused before NATS sees it: a caller's id (ids are the stream's), and the plain call.
    auto with_id = test::event_on({"orders.eu"}, "x");
    with_id.id = "mine";
    CHECK(asio::co_spawn(pa.io, pa.pub.async_publish(with_id), asio::use_future).get().ec == ssehub::error::invalid_event_field);
    CHECK(pa.pub.publish(test::event_on({"orders.eu"}, "x")).ec == std::errc::operation_not_supported);
}

TEST_CASE("nats jetstream: interest, a node with a client on 1 of 1,000 topics receives only that subject",
          "[nats][jetstream]") {
    SKIP_WITHOUT_NATS_SERVER();
    const auto o = jetstream_options_for(nats_test::shared(), "jsinterest");
    js_publisher p(o);
    REQUIRE(p.ready());
    node b(o);
    REQUIRE(b.subscribed(2));  // the fixed subjects only
    test::client c;
    c.get(b.srv.port(), "/events?topics=t.7");
    REQUIRE(c.wait_events(1));
    REQUIRE(b.subscribed(3));
    std::vector<std::future<sn::nats_publish_result>> acks;  // in flight together, then awaited
    for (int i = 0; i < 1000; ++i)
        acks.push_back(asio::co_spawn(p.io, p.pub.async_publish(test::event_on({"t." + std::to_string(i)}, "x" + std::to_string(i))),
                                      asio::use_future));
    for (auto& f : acks) REQUIRE_FALSE(f.get().ec);
    REQUIRE_FALSE(p.publish({"t.7"}, "end").ec);
    CHECK(data_until_end(c) == std::vector<std::string>{"x7", "end"});
    CHECK(b.nats().messages.load() == 2);  // not 1,001
}

TEST_CASE("nats jetstream: a node goes away, its client resumes on another node with Last-Event-ID, exactly the missed events",
          "[nats][jetstream]") {
    SKIP_WITHOUT_NATS_SERVER();
    const auto o = jetstream_options_for(nats_test::shared(), "jskill");
    js_publisher p(o);
    REQUIRE(p.ready());
    auto a = std::make_unique<node>(o);
    node b(o, 4);  // max_replay 4
    test::client first;
    first.get(a->srv.port(), "/events?topics=orders.*");
    REQUIRE(first.wait_events(1));
    REQUIRE(a->subscribed(3));
    std::vector<std::string> ids;
    for (const char* d : {"1", "2", "3"}) ids.push_back(p.publish({"orders.eu"}, d).id);
    REQUIRE(data_until_end(first, "3") == std::vector<std::string>{"1", "2", "3"});
    const std::string last = first.events.back().id;
    CHECK(last == ids[2]);

    a->stop();  // node A is gone; its client missed what follows
    REQUIRE(first.wait_closed(20s));
    for (auto [topic, d] : {std::pair{"orders.eu", "4"}, {"invoices.x", "not for it"}, {"orders.us", "5"}, {"orders.eu", "6"}})
        ids.push_back(p.publish({topic}, d).id);
    // B had no client on orders.*: its replay waits for its new subscription, then reads the stream.
    test::client resumed;
    resumed.get(b.srv.port(), "/events?topics=orders.*", "Last-Event-ID: " + last + "\r\n");
    REQUIRE(resumed.wait_events(4));
    ids.push_back(p.publish({"orders.eu"}, "end").id);  // live, after the replay
    CHECK(data_until_end(resumed) == std::vector<std::string>{"4", "5", "6", "end"});
    CHECK(ids_until(resumed, "end") == std::vector<std::string>{ids[3], ids[5], ids[6], ids[7]});

    // Further back than max_replay (4): the 4 oldest, then `resync`.
    test::client far;
    far.get(b.srv.port(), "/events?topics=orders.*", "Last-Event-ID: " + ids[0] + "\r\n");
    REQUIRE(far.read_until([&] { return !far.events.empty() && far.events.back().type == "resync"; }, 20s));
    std::vector<std::string> got;
    for (const auto& e : far.events)
        if (e.type.empty() || e.type == "message") got.push_back(e.data);
    CHECK(got == std::vector<std::string>{"2", "3", "4", "5"});
    // Unknown ids: resync at once.
    for (const std::string bad : {"999999999", "abc", "0"}) {
        test::client u;
        u.get(b.srv.port(), "/events?topics=orders.*", "Last-Event-ID: " + bad + "\r\n");
        REQUIRE(u.read_until([&] { return !u.events.empty() && u.events.back().type == "resync"; }, 20s));
        CHECK(u.events.back().data.find("unknown_last_event_id") != std::string::npos);
    }
    CHECK(b.replayer->counters().replay_errors.load() == 0);
}

TEST_CASE("nats jetstream: the server restarts on its store, nodes recover, the stream and its replay survive",
          "[nats][jetstream]") {
    SKIP_WITHOUT_NATS_SERVER();
    nats_test::nats_server server;  // its own: this one is killed
    const auto o = jetstream_options_for(server, "jsrestart");
    js_publisher p(o);
    REQUIRE(p.ready());
    node b(o);
    test::client c;
    c.get(b.srv.port(), "/events?topics=orders");
    REQUIRE(c.wait_events(1));
    REQUIRE(b.subscribed(3));
    const auto one = p.publish({"orders"}, "before1");
    const auto two = p.publish({"orders"}, "before2");
    REQUIRE_FALSE(two.ec);
    REQUIRE(data_until_end(c, "before2") == std::vector<std::string>{"before1", "before2"});

    server.stop();
    REQUIRE(test::poll_until([&] { return !p.pub.counters().connected.load() && !b.nats().connected.load(); }, 20s));
    CHECK(p.publish({"orders"}, "lost").ec == std::errc::connection_refused);  // a daemon answers 503
    // No busy loop: reconnect rounds come after a backoff (20 ms, doubling, ± 20 %).
    const auto rounds0 = b.nats().reconnect_rounds.load();
    const auto t0 = test::clock::now();
    REQUIRE(test::poll_until([&] { return b.nats().reconnect_rounds.load() >= rounds0 + 3; }, 20s));
    const auto rounds = b.nats().reconnect_rounds.load() - rounds0;
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(test::clock::now() - t0);
    CHECK(rounds <= static_cast<std::uint64_t>(waited / 16ms) + 3);

    REQUIRE(server.start());
    REQUIRE(p.ready());
    REQUIRE(b.subscribed(3));
    // The replayer's connection reconnects on its own (a replay before it would resync).
    REQUIRE(test::poll_until([&] { return b.replayer->counters().connected.load(); }, 20s));
    const auto after = p.publish({"orders"}, "after");
    REQUIRE_FALSE(after.ec);
    CHECK(std::stoull(after.id) == std::stoull(two.id) + 1);  // the stream survived: its sequence goes on
    CHECK(data_until_end(c, "after") == std::vector<std::string>{"before1", "before2", "after"});
    test::client resumed;
    resumed.get(b.srv.port(), "/events?topics=orders", "Last-Event-ID: " + one.id + "\r\n");
    CHECK(data_until_end(resumed, "after") == std::vector<std::string>{"before2", "after"});
    CHECK(b.nats().reconnects.load() >= 1);
}
