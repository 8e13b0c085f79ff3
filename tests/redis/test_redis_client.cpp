// ssehub::redis against a real redis-server: publisher → subscriber → hub,
// Streams replay with filtering, tickets across two stores, Redis down, URL
// parsing and the event codec.
#include "redis_server.hpp"
#include "support/harness.hpp"

#include <ssehub/fan_out.hpp>
#include <ssehub/redis/redis.hpp>

#include <catch2/catch.hpp>

namespace {

using namespace std::chrono_literals;
namespace sr = ssehub::redis;

template <class T>
T run(test::server& srv, asio::awaitable<T> op) {
    return asio::co_spawn(srv.context(), std::move(op), asio::use_future).get();
}

sr::redis_options options_for(const redis_test::redis_server& r) {
    sr::redis_options o;
    o.port = r.port();
    return o;
}

ssehub::event make_event(std::vector<std::string> topics, std::string data, ssehub::metadata group = {}) {
    ssehub::event ev;
    ev.topics = std::move(topics);
    ev.data = std::move(data);
    ev.group = std::move(group);
    return ev;
}

}  // namespace

TEST_CASE("parse_redis_url", "[redis]") {
    auto o = sr::parse_redis_url("redis://user:secret@10.0.0.5:6380/2");
    REQUIRE(o);
    CHECK(o->host == "10.0.0.5");
    CHECK(o->port == 6380);
    CHECK(o->username == "user");
    CHECK(o->password == "secret");
    CHECK(o->db == 2);
    o = sr::parse_redis_url("localhost");
    REQUIRE(o);
    CHECK(o->host == "localhost");
    CHECK(o->port == 6379);
    std::string why;
    CHECK_FALSE(sr::parse_redis_url("http://x", &why));
    CHECK_FALSE(sr::parse_redis_url("redis://h:99999", &why));
    CHECK_FALSE(sr::parse_redis_url("redis://h/x", &why));
}

TEST_CASE("event codec round trip, with TTL as an absolute deadline", "[redis]") {
    ssehub::event ev = make_event({"a.b", "c"}, "line1\nline2", {{"tenant_id", "t1"}});
    ev.type = "update";
    ev.lane = ssehub::priority::coalesced;
    ev.coalesce_key = "k";
    ev.ttl = 5000ms;
    ev.retry = 1500ms;
    const auto text = sr::encode_event(ev, 1000);
    auto d = sr::decode_event(text, 2000);
    REQUIRE(d);
    CHECK(d->ev.topics == ev.topics);
    CHECK(d->ev.data == ev.data);
    CHECK(d->ev.group == ev.group);
    CHECK(d->ev.type == "update");
    CHECK(d->ev.lane == ssehub::priority::coalesced);
    CHECK(d->ev.coalesce_key == "k");
    CHECK(d->ev.ttl == 4000ms);
    CHECK(d->ev.retry == 1500ms);
    CHECK_FALSE(d->expired);
    CHECK(sr::decode_event(text, 7000)->expired);
    auto m = sr::decode_message("1700000000000-3\n" + text, 2000);
    REQUIRE(m);
    CHECK(m->ev.id == "1700000000000-3");
    CHECK_FALSE(sr::decode_message("nope\n" + text, 0));
    // A caller's id travels in the JSON too, and must be the one in front.
    ev.id = "order-42";
    const auto with_id = sr::encode_event(ev, 1000);
    CHECK(sr::decode_event(with_id, 2000)->ev.id == "order-42");
    CHECK(sr::decode_message("order-42\n" + with_id, 2000)->ev.id == "order-42");
    CHECK_FALSE(sr::decode_message("1700000000000-3\n" + with_id, 2000));
    CHECK_FALSE(sr::decode_event("{\"t\":[1]}", 0));
    CHECK(sr::is_stream_id("0-1"));
    CHECK_FALSE(sr::is_stream_id("18c1f0a2b3c-000000000001"));
}

TEST_CASE("redis_publisher → redis_subscriber → hub: the Stream id is the event id", "[redis]") {
    redis_test::redis_server redis;
    test::server srv;
    auto bridge = ssehub::fan_out(srv.hub(), sr::redis_subscriber(options_for(redis), {"ssehub:events"}),
                                  sr::redis_fan_out_config());
    REQUIRE(test::poll_until([&] { return bridge.counters().connected.load() == 1; }, 20s));
    test::client c;
    c.get(srv.port(), "/events?topics=orders");
    REQUIRE(c.wait_events(1));

    sr::redis_publisher pub(srv.context().get_executor(), options_for(redis));
    const auto r = run(srv, pub.async_publish(make_event({"orders"}, "{\"n\":1}")));
    REQUIRE_FALSE(r.ec);
    CHECK(sr::is_stream_id(r.id));
    CHECK(r.nodes == 1);
    REQUIRE(c.wait_events(2, 20s));
    CHECK(c.events[1].id == r.id);
    CHECK(c.events[1].data == "{\"n\":1}");

    // A caller's id is the event's id on every node.
    auto with_id = make_event({"orders"}, "x");
    with_id.id = "mine";
    const auto mine = run(srv, pub.async_publish(with_id));
    REQUIRE_FALSE(mine.ec);
    CHECK(mine.id == "mine");
    REQUIRE(c.wait_events(3, 20s));
    CHECK(c.events[2].id == "mine");

    // Refused before Redis sees it.
    CHECK(run(srv, pub.async_publish(make_event({"bad topic"}, "x"))).ec == ssehub::error::invalid_topic);
    with_id.id = "two\nlines";
    CHECK(run(srv, pub.async_publish(with_id)).ec == ssehub::error::invalid_event_field);
    with_id.id = std::string(257, 'x');
    CHECK(run(srv, pub.async_publish(with_id)).ec == ssehub::error::invalid_event_field);
    CHECK(run(srv, pub.async_publish(ssehub::event{})).ec == ssehub::error::no_target);
    bridge.stop();
}

TEST_CASE("redis_publisher without a Stream: ids still sort and never repeat", "[redis]") {
    redis_test::redis_server redis;
    test::server srv;
    sr::redis_publisher_config pc;
    pc.stream = "";
    sr::redis_publisher pub(srv.context().get_executor(), options_for(redis), pc);
    const auto a = run(srv, pub.async_publish(make_event({"a"}, "1")));
    const auto b = run(srv, pub.async_publish(make_event({"a"}, "2")));
    REQUIRE_FALSE(a.ec);
    REQUIRE_FALSE(b.ec);
    CHECK(sr::is_stream_id(a.id));
    CHECK(a.id != b.id);
    CHECK(a.nodes == 0);  // nobody subscribed
}

TEST_CASE("redis_streams_replayer: after an id, filtered by topic and group, unknown ids", "[redis]") {
    redis_test::redis_server redis;
    test::server srv;
    sr::redis_publisher pub(srv.context().get_executor(), options_for(redis));
    sr::streams_replayer_config rc;
    rc.page = 2;  // several pages
    sr::redis_streams_replayer rep(srv.context().get_executor(), options_for(redis), rc);

    const auto first = run(srv, pub.async_publish(make_event({"orders.eu"}, "0")));
    REQUIRE_FALSE(first.ec);
    std::vector<std::string> ids;
    for (int i = 1; i <= 6; ++i) {
        ssehub::metadata group;
        if (i == 3) group = {{"tenant_id", "t2"}};  // another tenant's event
        const std::string topic = i == 5 ? "invoices" : "orders.eu";
        const auto r = run(srv, pub.async_publish(make_event({topic}, std::to_string(i), group)));
        REQUIRE_FALSE(r.ec);
        ids.push_back(r.id);
    }
    const std::vector<std::string> patterns{"orders.*"};
    const ssehub::metadata t1{{"tenant_id", "t1"}};
    auto replay = [&](std::string last, std::size_t max) {
        return run(srv, rep.async_replay(last, patterns, t1, max));
    };
    auto r = replay(first.id, 100);
    CHECK(r.known);
    CHECK_FALSE(r.truncated);
    std::vector<std::string> got;
    for (const auto& e : r.events) {
        CHECK(e.bytes->starts_with("id: " + e.id + "\n"));  // the id beside the frame is the one it carries
        got.push_back(*e.bytes);
    }
    REQUIRE(got.size() == 4);  // 1, 2, 4, 6: not t2's event, not the invoice
    CHECK(got[0] == "id: " + ids[0] + "\ndata: 1\n\n");
    CHECK(got[2] == "id: " + ids[3] + "\ndata: 4\n\n");
    CHECK(got[3] == "id: " + ids[5] + "\ndata: 6\n\n");

    r = replay(first.id, 2);
    CHECK(r.known);
    CHECK(r.truncated);
    CHECK(r.events.size() == 2);

    r = replay(ids.back(), 100);  // the newest: known, nothing after it
    CHECK(r.known);
    CHECK(r.events.empty());

    CHECK_FALSE(replay("1-0", 100).known);            // not in the Stream
    CHECK_FALSE(replay("18c1f0a2b3c-0001", 100).known);  // not a Stream id, nor a caller's

    // A caller's id resumes from its entry, and replays carry callers' ids.
    auto own = make_event({"orders.eu"}, "7");
    own.id = "order-7";
    REQUIRE_FALSE(run(srv, pub.async_publish(own)).ec);
    const auto after = run(srv, pub.async_publish(make_event({"orders.eu"}, "8")));
    own.id = "order-9";
    own.data = "9";
    REQUIRE_FALSE(run(srv, pub.async_publish(own)).ec);
    r = replay("order-7", 100);
    CHECK(r.known);
    REQUIRE(r.events.size() == 2);
    CHECK(*r.events[0].bytes == "id: " + after.id + "\ndata: 8\n\n");
    CHECK(r.events[1].id == "order-9");
    CHECK(*r.events[1].bytes == "id: order-9\ndata: 9\n\n");
    CHECK(replay("order-9", 100).events.empty());
    // A reused id resumes from its first entry, and the later one is replayed.
    own.id = "order-7";
    own.data = "7 again";
    REQUIRE_FALSE(run(srv, pub.async_publish(own)).ec);
    r = replay("order-7", 100);
    REQUIRE(r.events.size() == 3);
    CHECK(r.events[2].id == "order-7");

    // Mercure's `earliest`: the whole Stream, filtered as ever.
    CHECK_FALSE(replay("earliest", 100).known);  // not configured
    rc.earliest_id = "earliest";
    sr::redis_streams_replayer all_of_it(srv.context().get_executor(), options_for(redis), rc);
    r = run(srv, all_of_it.async_replay("earliest", patterns, t1, 100));
    CHECK(r.known);
    REQUIRE(r.events.size() == 9);  // 0, 1, 2, 4, 6, 7, 8, 9, 7 again: not t2's, not the invoice
    CHECK(*r.events[0].bytes == "id: " + first.id + "\ndata: 0\n\n");
}

TEST_CASE("redis_ticket_store: a ticket from one store is read, then taken once, through another", "[redis]") {
    redis_test::redis_server redis;
    test::server srv;
    sr::redis_ticket_store a(srv.context().get_executor(), options_for(redis));
    sr::redis_ticket_store b(srv.context().get_executor(), options_for(redis));
    const std::string t = run(srv, ssehub::issue_ticket(a, "value-1", 30000ms));
    CHECK(run(srv, b.async_get(t)) == std::optional<std::string>("value-1"));  // read, left in place
    CHECK(run(srv, a.async_get(t)) == std::optional<std::string>("value-1"));
    CHECK(run(srv, b.async_take(t)) == std::optional<std::string>("value-1"));
    CHECK_FALSE(run(srv, a.async_get(t)));
    CHECK_FALSE(run(srv, b.async_take(t)));
    CHECK_FALSE(run(srv, a.async_take(t)));
    CHECK(run(srv, a.async_put("x", "v", 0ms)) == std::errc::invalid_argument);
}

TEST_CASE("Redis down: commands fail fast, then work once it is back", "[redis]") {
    redis_test::redis_server redis;
    test::server srv;
    auto o = options_for(redis);
    o.reconnect_initial = 50ms;
    o.reconnect_max = 200ms;
    sr::redis_publisher pub(srv.context().get_executor(), o);
    REQUIRE_FALSE(run(srv, pub.async_publish(make_event({"a"}, "1"))).ec);
    redis.stop();
    CHECK(run(srv, pub.async_publish(make_event({"a"}, "2"))).ec);
    // Within the backoff, no new connect is tried: the failure is immediate.
    const auto attempts = pub.counters().connect_attempts.load();
    CHECK(run(srv, pub.async_publish(make_event({"a"}, "3"))).ec);
    CHECK(pub.counters().connect_attempts.load() <= attempts + 1);
    REQUIRE(redis.start());
    CHECK(test::poll_until([&] { return !run(srv, pub.async_publish(make_event({"a"}, "4"))).ec; }, 20s));
    CHECK(pub.counters().connected.load());
}
