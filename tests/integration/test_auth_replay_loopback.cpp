// Loopback tests of Last-Event-ID replay and of JWT and ticket authentication.
#include "support/harness.hpp"

#include <ssehub/auth.hpp>
#include <ssehub/replayer.hpp>
#include <ssehub/ticket_store.hpp>

#include <catch2/catch.hpp>

#include <set>

using namespace std::chrono_literals;
using test::client;
using test::server;

namespace {

using test::wait_active;

ssehub::event one_topic(std::string topic, std::string data) {
    ssehub::event e;
    e.topics = {std::move(topic)};
    e.data = std::move(data);
    return e;
}

ssehub::hub_config with_replay(std::size_t max_events = 1000) {
    ssehub::hub_config cfg;
    ssehub::memory_replayer_config rc;
    rc.max_events = max_events;
    cfg.replayer = ssehub::memory_replayer(rc);
    return cfg;
}

// A replayer defined only here, plugged in through the concept: records calls,
// delegates to a memory_replayer, answers from another coroutine hop.
struct recording_replayer {
    std::shared_ptr<ssehub::memory_replayer> inner = std::make_shared<ssehub::memory_replayer>();
    std::shared_ptr<std::atomic<int>> stores = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<int>> replays = std::make_shared<std::atomic<int>>(0);

    asio::awaitable<void> async_store(ssehub::stored_event e) {
        ++*stores;
        inner->store(std::move(e));
        co_return;
    }
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& p,
                                                        const ssehub::metadata& m, std::size_t max) {
        ++*replays;
        asio::steady_timer t(co_await asio::this_coro::executor, 20ms);  // a "network" round trip
        co_await t.async_wait(asio::use_awaitable);
        co_return inner->replay(last_id, p, m, max);
    }
};
static_assert(ssehub::replayer<recording_replayer>);

// A replayer defined only here that offers the synchronous fast path: the hub
// must take it (counted) and never its awaitable forms, with no type check.
struct sync_user_replayer {
    std::shared_ptr<ssehub::memory_replayer> inner = std::make_shared<ssehub::memory_replayer>();
    std::shared_ptr<std::atomic<int>> sync_calls = std::make_shared<std::atomic<int>>(0);
    std::shared_ptr<std::atomic<int>> async_calls = std::make_shared<std::atomic<int>>(0);

    asio::awaitable<void> async_store(ssehub::stored_event e) {
        ++*async_calls;
        inner->store(std::move(e));
        co_return;
    }
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& p,
                                                        const ssehub::metadata& m, std::size_t max) {
        ++*async_calls;
        co_return inner->replay(last_id, p, m, max);
    }
    void store(ssehub::stored_event e) {
        ++*sync_calls;
        inner->store(std::move(e));
    }
    ssehub::replay_result replay(std::string_view last_id, const std::vector<std::string>& p,
                                 const ssehub::metadata& m, std::size_t max) {
        ++*sync_calls;
        return inner->replay(last_id, p, m, max);
    }
};
static_assert(ssehub::sync_replayer<sync_user_replayer>);

struct missing_replay {
    asio::awaitable<void> async_store(ssehub::stored_event) { co_return; }
};
static_assert(!ssehub::replayer<missing_replay>);

}  // namespace

TEST_CASE("replay: reconnect with Last-Event-ID gets what it missed, then live", "[replay][loopback]") {
    server s(with_replay());
    client first;
    first.get(s.port(), "/events?topics=orders");
    REQUIRE(first.wait_events(1));
    REQUIRE(wait_active(s, 1));
    s.publish_sync(one_topic("orders", "X"));
    REQUIRE(first.wait_events(2));
    const std::string x = first.events[1].id;
    first.close();
    REQUIRE(wait_active(s, 0));
    s.publish_sync(one_topic("orders", "E1"));
    s.publish_sync(one_topic("other", "not mine"));
    s.publish_sync(one_topic("orders", "E2"));

    SECTION("header") {
        client again;
        again.get(s.port(), "/events?topics=orders", "Last-Event-ID: " + x + "\r\n");
        REQUIRE(again.wait_events(3));
        CHECK(again.events[1].data == "E1");
        CHECK(again.events[2].data == "E2");
        CHECK(again.events[0].id.empty());  // `connected` does not move the client's last id
        s.publish_sync(one_topic("orders", "live"));
        REQUIRE(again.wait_events(4));
        CHECK(again.events[3].data == "live");
        CHECK(s.hub().stats().events_replayed == 2);
    }
    SECTION("query parameter") {
        client again;
        again.get(s.port(), "/events?topics=orders&lastEventId=" + x);
        REQUIRE(again.wait_events(3));
        CHECK(again.events[1].data == "E1");
        CHECK(again.events[2].data == "E2");
    }
    SECTION("the header beats the query") {
        client again;
        again.get(s.port(), "/events?topics=orders&lastEventId=bogus", "Last-Event-ID: " + x + "\r\n");
        REQUIRE(again.wait_events(3));
        CHECK(again.events[1].data == "E1");
    }
    SECTION("unknown id → resync") {
        client again;
        again.get(s.port(), "/events?topics=orders", "Last-Event-ID: nope\r\n");
        REQUIRE(again.wait_events(2));
        CHECK(again.events[1].type == "resync");
        CHECK(again.events[1].data == R"({"reason":"unknown_last_event_id"})");
    }
}

TEST_CASE("replay: the connected event's id replays what follows", "[replay][loopback]") {
    server s(with_replay());
    s.publish_sync(one_topic("t", "before"));
    client c;
    c.get(s.port(), "/events?topics=t");
    REQUIRE(c.wait_events(1));
    const std::string resume = c.events[0].id;
    CHECK(!resume.empty());
    c.close();
    REQUIRE(wait_active(s, 0));
    s.publish_sync(one_topic("t", "missed"));
    client again;
    again.get(s.port(), "/events?topics=t", "Last-Event-ID: " + resume + "\r\n");
    REQUIRE(again.wait_events(2));
    CHECK(again.events[1].data == "missed");
}

TEST_CASE("replay: a tenant-scoped event is never replayed to another tenant", "[replay][loopback]") {
    auto cfg = with_replay();
    cfg.on_connect = [](const ssehub::http::request& req, ssehub::connection& c) -> std::optional<ssehub::rejection> {
        c.set_metadata("tenant_id", req.query_param("tenant").value_or(""));
        c.set_topics({"orders"});
        return std::nullopt;
    };
    server s(cfg);
    client b;
    b.get(s.port(), "/events?tenant=B");
    REQUIRE(b.wait_events(1));
    s.publish_sync(one_topic("orders", "start"));
    REQUIRE(b.wait_events(2));
    const std::string last = b.events[1].id;
    b.close();
    REQUIRE(wait_active(s, 0));
    auto for_a = one_topic("orders", "A only");
    for_a.group = {{"tenant_id", "A"}};
    s.publish_sync(for_a);
    auto for_b = one_topic("orders", "B only");
    for_b.group = {{"tenant_id", "B"}};
    s.publish_sync(for_b);
    client again;
    again.get(s.port(), "/events?tenant=B", "Last-Event-ID: " + last + "\r\n");
    REQUIRE(again.wait_events(2));
    CHECK(again.events[1].data == "B only");
    again.read_until([] { return false; }, 50ms);
    CHECK(again.events.size() == 2);
}

TEST_CASE("replay: every id exactly once while publishing during reconnects", "[replay][loopback]") {
    enum class kind { memory, user_sync, user_awaitable };
    const kind k = GENERATE(kind::memory, kind::user_sync, kind::user_awaitable);
    ssehub::hub_config cfg;
    sync_user_replayer user_sync;
    if (k == kind::user_awaitable) cfg.replayer = recording_replayer{};  // live events held during replay
    else if (k == kind::user_sync) cfg.replayer = user_sync;             // the fast path, as memory's
    else cfg = with_replay();
    server s(cfg);
    // A publisher at 50 events/s on the server's own io_context, as a backend would.
    auto stop = std::make_shared<std::atomic<bool>>(false);
    auto publisher = [](ssehub::hub& h, std::shared_ptr<std::atomic<bool>> stop) -> asio::awaitable<void> {
        asio::steady_timer pace(co_await asio::this_coro::executor);
        for (int n = 0; !*stop; ++n) {
            co_await h.async_publish(one_topic("feed", std::to_string(n)));
            pace.expires_after(20ms);
            co_await pace.async_wait(asio::use_awaitable);
        }
    };
    auto done = asio::co_spawn(s.context(), publisher(s.hub(), stop), asio::use_future);
    // Data in arrival order across all connections.
    const auto rounds = test::reconnect_rounds(s.port(), "/events?topics=feed", 6, 10);
    REQUIRE(rounds);
    const auto& seen = *rounds;
    *stop = true;
    REQUIRE(done.wait_for(10s) == std::future_status::ready);
    // Contiguous, no gap and no duplicate from the first event this client saw.
    const int first = std::stoi(seen.front());
    for (std::size_t i = 0; i < seen.size(); ++i) REQUIRE(seen[i] == std::to_string(first + static_cast<int>(i)));
    if (k == kind::user_sync) {
        CHECK(*user_sync.sync_calls > 0);
        CHECK(*user_sync.async_calls == 0);
    }
}

TEST_CASE("jwt auth: bearer header or ?token=, claims to metadata, allowed topics", "[auth][loopback]") {
    if (!ssehub::hs256_available) return;
    ssehub::jwt_options jo;
    jo.secret = "s3cret";
    std::vector<std::string> failures;
    std::mutex fm;
    ssehub::hub_config cfg;
    cfg.authenticate = ssehub::jwt_auth(jo);
    cfg.on_auth_failure = [&](const ssehub::http::request&, std::string_view why) {
        std::lock_guard l(fm);
        failures.emplace_back(why);
    };
    std::atomic<int> disconnects{0};
    cfg.on_disconnect = [&](const ssehub::connection&) { ++disconnects; };
    server s(cfg);
    const std::string header = R"({"alg":"HS256","typ":"JWT"})";
    const std::string good = ssehub::sign_hs256(header, R"({"sub":"u1","tenant_id":"A","topics":["orders.>"]})", "s3cret");
    const std::string wrong = ssehub::sign_hs256(header, R"({"sub":"u1"})", "other");

    client ok;
    ok.get(s.port(), "/events?topics=orders.eu", "Authorization: bearer " + good + "\r\n");
    REQUIRE(ok.wait_events(1));
    client by_query;
    by_query.get(s.port(), "/events?topics=orders.*&token=" + good);
    REQUIRE(by_query.wait_events(1));
    REQUIRE(wait_active(s, 2));
    auto scoped = one_topic("orders.eu", "for A");
    scoped.group = {{"tenant_id", "A"}, {"sub", "u1"}};
    CHECK(s.publish_sync(scoped).matched == 2);

    client none, bad, forbidden;
    none.get(s.port(), "/events?topics=orders.eu");
    bad.get(s.port(), "/events?topics=orders.eu", "Authorization: Bearer " + wrong + "\r\n");
    forbidden.get(s.port(), "/events?topics=users", "Authorization: Bearer " + good + "\r\n");
    REQUIRE(none.wait_closed());
    REQUIRE(bad.wait_closed());
    REQUIRE(forbidden.wait_closed());
    CHECK(none.status() == 401);
    CHECK(bad.status() == 401);
    CHECK(forbidden.status() == 403);
    CHECK(bad.body() == "unauthorized");  // generic: the reason goes to the log only
    ok.close();
    by_query.close();
    REQUIRE(wait_active(s, 0));
    CHECK(disconnects == 2);  // failures never registered, never disconnected
    std::lock_guard l(fm);
    CHECK(failures.size() == 3);
    for (const auto& f : failures) CHECK(f.find(good) == std::string::npos);  // tokens never logged
}

TEST_CASE("ticket auth: single use, expiry, topics and metadata from the ticket", "[auth][loopback]") {
    // A mock clock for the store: expiry without waiting.
    auto offset = std::make_shared<std::atomic<std::int64_t>>(0);
    ssehub::memory_ticket_store_config sc;
    sc.clock = [offset] { return std::chrono::steady_clock::now() + std::chrono::milliseconds(offset->load()); };
    auto store = std::make_shared<ssehub::memory_ticket_store>(sc);
    ssehub::hub_config cfg;
    cfg.authenticate = ssehub::ticket_auth(store);
    server s(cfg);
    const std::string t = ssehub::issue_ticket_value();
    REQUIRE(!store->put(t, ssehub::ticket_value({"orders"}, {{"tenant_id", "A"}}), 1min));
    client c;
    c.get(s.port(), "/events?ticket=" + t);
    REQUIRE(c.wait_events(1));
    CHECK(c.events[0].data.find(R"("topics":["orders"])") != std::string::npos);
    auto scoped = one_topic("orders", "A");
    scoped.group = {{"tenant_id", "A"}};
    CHECK(s.publish_sync(scoped).matched == 1);

    client reuse;
    reuse.get(s.port(), "/events?ticket=" + t);
    REQUIRE(reuse.wait_closed());
    CHECK(reuse.status() == 401);

    const std::string expired = ssehub::issue_ticket_value();
    REQUIRE(!store->put(expired, ssehub::ticket_value({"orders"}, {}), 30s));
    *offset = 60000;  // a minute later
    client late;
    late.get(s.port(), "/events?ticket=" + expired);
    REQUIRE(late.wait_closed());
    CHECK(late.status() == 401);
}

namespace {

// A decoder for a credential that scopes topics: the ticket's value is the
// tenant, the request's ?topics= must be under orders.
bool orders_only(std::string_view value, ssehub::auth_outcome& out) {
    out.metadata["tenant_id"] = std::string(value);
    out.allowed_topics = std::vector<std::string>{"orders.>"};
    return true;
}

int status_of(server& s, const std::string& target) {
    client c;
    c.get(s.port(), target);
    if (!c.read_until([&] { return c.head_done(); })) return 0;
    return c.status();
}

}  // namespace

TEST_CASE("ticket auth: a request refused for its topics leaves the ticket usable", "[auth][loopback]") {
    auto store = std::make_shared<ssehub::memory_ticket_store>();
    ssehub::hub_config cfg;
    cfg.max_topics_per_connection = 2;
    cfg.authenticate = ssehub::ticket_auth(store, orders_only);
    server s(cfg);
    const std::string t = ssehub::issue_ticket_value();
    REQUIRE(!store->put(t, "A", 1min));

    SECTION("invalid topic: 400, then the same ticket streams") {
        CHECK(status_of(s, "/events?topics=orders..eu&ticket=" + t) == 400);
    }
    SECTION("topic not allowed: 403, then the same ticket streams") {
        CHECK(status_of(s, "/events?topics=billing&ticket=" + t) == 403);
    }
    SECTION("too many topics: 400, then the same ticket streams") {
        CHECK(status_of(s, "/events?topics=orders.a,orders.b,orders.c&ticket=" + t) == 400);
    }
    CHECK(store->size() == 1);  // not spent

    client ok;
    ok.get(s.port(), "/events?topics=orders.eu&ticket=" + t);
    REQUIRE(ok.wait_events(1));
    CHECK(ok.status() == 200);
    CHECK(ok.events[0].type == "connected");
    CHECK(store->size() == 0);  // spent by the stream it admitted
    auto scoped = one_topic("orders.eu", "A");
    scoped.group = {{"tenant_id", "A"}};
    CHECK(s.publish_sync(scoped).matched == 1);

    CHECK(status_of(s, "/events?topics=orders.eu&ticket=" + t) == 401);  // used
}

TEST_CASE("ticket auth: a request refused for room (503) leaves the ticket usable", "[auth][loopback]") {
    auto store = std::make_shared<ssehub::memory_ticket_store>();
    ssehub::hub_config cfg;
    cfg.max_connections = 1;
    cfg.authenticate = ssehub::ticket_auth(store, orders_only);
    server s(cfg);
    const std::string first = ssehub::issue_ticket_value();
    const std::string t = ssehub::issue_ticket_value();
    REQUIRE(!store->put(first, "A", 1min));
    REQUIRE(!store->put(t, "A", 1min));
    auto holder = std::make_unique<client>();
    holder->get(s.port(), "/events?topics=orders.eu&ticket=" + first);
    REQUIRE(holder->wait_events(1));
    CHECK(status_of(s, "/events?topics=orders.eu&ticket=" + t) == 503);  // full
    CHECK(store->size() == 1);  // not spent
    holder.reset();
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).active_connections == 0; }));
    client ok;
    ok.get(s.port(), "/events?topics=orders.eu&ticket=" + t);
    REQUIRE(ok.wait_events(1));
    CHECK(ok.status() == 200);
    CHECK(store->size() == 0);
}

namespace {

// A memory store whose reads answer (with what they read on arrival) only
// once two are in flight (or after 5 s), so two requests with one ticket both
// pass the read before either takes it: the take alone must pick the one
// admitted.
struct gated_store {
    std::shared_ptr<ssehub::memory_ticket_store> inner = std::make_shared<ssehub::memory_ticket_store>();
    std::shared_ptr<std::atomic<int>> reads = std::make_shared<std::atomic<int>>(0);

    asio::awaitable<std::error_code> async_put(std::string t, std::string v, std::chrono::milliseconds ttl) {
        co_return inner->put(std::move(t), std::move(v), ttl);
    }
    asio::awaitable<std::optional<std::string>> async_get(std::string_view t) {
        auto value = inner->get(t);
        reads->fetch_add(1);
        asio::steady_timer timer(co_await asio::this_coro::executor);
        for (int i = 0; i < 1000 && reads->load() < 2; ++i) {
            timer.expires_after(5ms);
            co_await timer.async_wait(asio::use_awaitable);
        }
        co_return value;
    }
    asio::awaitable<std::optional<std::string>> async_take(std::string_view t) { co_return inner->take(t); }
};
static_assert(ssehub::ticket_store<gated_store>);

}  // namespace

TEST_CASE("ticket auth: two requests racing with one ticket, exactly one streams", "[auth][loopback]") {
    gated_store store;
    ssehub::hub_config cfg;
    cfg.authenticate = ssehub::ticket_auth(store);
    std::mutex fm;
    std::vector<std::string> failures;
    cfg.on_auth_failure = [&](const ssehub::http::request&, std::string_view why) {
        std::lock_guard l(fm);
        failures.emplace_back(why);
    };
    server s(cfg, 2);
    const std::string t = ssehub::issue_ticket_value();
    REQUIRE(!store.inner->put(t, ssehub::ticket_value({"orders"}, {{"tenant_id", "A"}}), 1min));

    client a, b;
    a.get(s.port(), "/events?ticket=" + t);
    b.get(s.port(), "/events?ticket=" + t);
    REQUIRE(a.read_until([&] { return a.head_done(); }));
    REQUIRE(b.read_until([&] { return b.head_done(); }));
    CHECK(store.reads->load() == 2);  // both read the ticket before either took it
    const std::multiset<int> statuses{a.status(), b.status()};
    CHECK(statuses == std::multiset<int>{200, 401});
    client& winner = a.status() == 200 ? a : b;
    REQUIRE(winner.wait_events(1));
    CHECK(winner.events[0].data.find(R"("topics":["orders"])") != std::string::npos);
    REQUIRE(wait_active(s, 1));
    {
        std::lock_guard l(fm);
        REQUIRE(failures.size() == 1);
        CHECK(failures[0] == "credential already used");
    }

    client late;  // the ticket is spent: refused at the read
    late.get(s.port(), "/events?ticket=" + t);
    REQUIRE(late.wait_closed());
    CHECK(late.status() == 401);
    CHECK(wait_active(s, 1));
}

TEST_CASE("pattern_covers", "[auth]") {
    using ssehub::pattern_covers;
    CHECK(pattern_covers("orders.>", "orders.eu"));
    CHECK(pattern_covers("orders.>", "orders.*"));
    CHECK(pattern_covers("orders.>", "orders.eu.>"));
    CHECK_FALSE(pattern_covers("orders.>", "orders"));
    CHECK(pattern_covers("orders.*", "orders.eu"));
    CHECK_FALSE(pattern_covers("orders.*", "orders.>"));
    CHECK_FALSE(pattern_covers("orders.*", "orders.eu.x"));
    CHECK(pattern_covers(">", "anything.at.all"));
    CHECK(pattern_covers("a", "a"));
    CHECK_FALSE(pattern_covers("a", "b"));
    CHECK_FALSE(pattern_covers("a", "*"));
}

TEST_CASE("replay: bounded by max_replay, then resync", "[replay][loopback]") {
    auto cfg = with_replay();
    cfg.max_replay = 3;
    server s(cfg);
    client c;
    c.get(s.port(), "/events?topics=t");
    REQUIRE(c.wait_events(1));
    s.publish_sync(one_topic("t", "seen"));
    REQUIRE(c.wait_events(2));
    const std::string last = c.events[1].id;
    c.close();
    REQUIRE(wait_active(s, 0));
    for (int i = 0; i < 5; ++i) s.publish_sync(one_topic("t", "m" + std::to_string(i)));
    client again;
    again.get(s.port(), "/events?topics=t", "Last-Event-ID: " + last + "\r\n");
    REQUIRE(again.wait_events(5));
    CHECK(again.events[1].data == "m0");
    CHECK(again.events[3].data == "m2");
    CHECK(again.events[4].type == "resync");
    CHECK(again.events[4].data == R"({"reason":"replay_truncated"})");
}
