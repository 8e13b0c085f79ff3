// Presence and disconnect by filter across shards: counts and pages exact
// under churn from several threads, join/leave events on "$presence.<topic>",
// async_disconnect by metadata. Real sockets; conditions polled, no sleeps.
#include "support/harness.hpp"
#include "support/run_awaitable.hpp"

#include <ssehub/presence.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace std::chrono_literals;
using test::client;
using test::server;

namespace {

using test::connection_id;

// Topics from ?topics= (one), metadata user from ?user=.
ssehub::hub_config presence_config(std::size_t shards, bool events = false) {
    ssehub::hub_config cfg;
    cfg.shards = shards;
    cfg.presence_events = events;
    cfg.on_connect = [](const ssehub::http::request& req, ssehub::connection& c) -> std::optional<ssehub::rejection> {
        if (auto t = req.query_param("topics")) c.set_topics({*t});
        if (auto u = req.query_param("user")) c.set_metadata("user", *u);
        return std::nullopt;
    };
    return cfg;
}

ssehub::presence_page presence(server& s, ssehub::presence_query q) {
    return test::run(s.hub().async_presence(std::move(q)));
}

std::size_t count(server& s, std::string topic) { return test::run(s.hub().async_presence_count(std::move(topic))); }

// Every page of `filter` through the cursor: id → user.
std::map<std::string, std::string> all_pages(server& s, ssehub::presence_filter filter, std::size_t limit) {
    std::map<std::string, std::string> out;
    ssehub::presence_query q{std::move(filter), 0, limit, {}};
    for (int pages = 0; pages < 10000; ++pages) {
        auto page = presence(s, q);
        CHECK(page.entries.size() <= limit);
        for (std::size_t i = 1; i < page.entries.size(); ++i) CHECK(page.entries[i - 1].id < page.entries[i].id);
        for (auto& e : page.entries) CHECK(out.emplace(e.id, e.metadata["user"]).second);  // no id twice
        if (page.next.empty()) break;
        CHECK(page.next == page.entries.back().id);
        q.after = page.next;
    }
    return out;
}

}  // namespace

TEST_CASE("presence: counts and pages exact after 1,000 connects and disconnects on 4 threads and 4 shards",
          "[loopback][presence]") {
    server s(presence_config(4), 2);
    constexpr int threads = 4;
    constexpr int per_thread = 250;
    const std::vector<std::string> rooms{"room.a", "room.b", "room.c"};
    // What stays connected: id → (room, user).
    std::mutex mu;
    std::map<std::string, std::pair<std::string, std::string>> expected;
    std::vector<std::vector<std::unique_ptr<client>>> kept(threads);
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                const std::string& room = rooms[static_cast<std::size_t>(i) % rooms.size()];
                const std::string user = "u" + std::to_string(t) + "-" + std::to_string(i % 7);
                auto c = std::make_unique<client>();
                c->get(s.port(), "/events?topics=" + room + "&user=" + user);
                if (!c->wait_events(1)) {
                    ++failures;
                    continue;
                }
                if (i % 5 != 0) continue;  // closed: its destructor disconnects it
                std::lock_guard lock(mu);
                expected.emplace(connection_id(*c), std::make_pair(room, user));
                kept[static_cast<std::size_t>(t)].push_back(std::move(c));
            }
        });
    }
    for (auto& w : workers) w.join();
    REQUIRE(failures == 0);
    REQUIRE(expected.size() == threads * per_thread / 5);
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).active_connections == expected.size(); }));

    std::map<std::string, std::size_t> per_room;
    for (const auto& [id, v] : expected) ++per_room[v.first];
    for (const auto& room : rooms) {
        CHECK(count(s, room) == per_room[room]);
        std::map<std::string, std::string> want;
        for (const auto& [id, v] : expected)
            if (v.first == room) want.emplace(id, v.second);
        CHECK(all_pages(s, {room, {}}, 7) == want);
    }
    CHECK(count(s, "room.*") == 0);  // a pattern's own subscribers, not what it matches
    CHECK(count(s, "elsewhere") == 0);

    // By metadata only (the group index), and topic + metadata.
    const std::string user = "u2-0";
    std::map<std::string, std::string> by_user;
    for (const auto& [id, v] : expected)
        if (v.second == user) by_user.emplace(id, user);
    REQUIRE(!by_user.empty());
    CHECK(all_pages(s, {"", {{"user", user}}}, 2) == by_user);
    auto in_a = presence(s, {{"room.a", {{"user", user}}}, 0, 100, {}});
    for (const auto& e : in_a.entries) CHECK(expected.at(e.id) == std::make_pair(std::string("room.a"), user));

    // Offset paging: the same order as the cursor, `total` on every page.
    auto first = presence(s, {{"room.b", {}}, 0, 3, {}});
    auto second = presence(s, {{"room.b", {}}, 3, 3, {}});
    CHECK(first.total == per_room["room.b"]);
    CHECK(second.total == per_room["room.b"]);
    REQUIRE(first.entries.size() == 3);
    REQUIRE(second.entries.size() == 3);
    auto cursor = presence(s, {{"room.b", {}}, 0, 3, first.next});
    for (std::size_t i = 0; i < 3; ++i) CHECK(cursor.entries[i].id == second.entries[i].id);
    const auto since = first.entries[0].connected_at;
    CHECK(since <= std::chrono::system_clock::now());
    CHECK(since > std::chrono::system_clock::now() - 1h);
    CHECK(first.entries[0].topics == std::vector<std::string>{"room.b"});

    // Everyone leaves: nothing remains anywhere.
    kept.clear();
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).active_connections == 0; }));
    for (const auto& room : rooms) {
        CHECK(count(s, room) == 0);
        auto page = presence(s, {{room, {}}, 0, 100, {}});
        CHECK(page.total == 0);
        CHECK(page.entries.empty());
    }
    CHECK(presence(s, {{"", {{"user", user}}}, 0, 100, {}}).total == 0);
}

TEST_CASE("presence: join and leave events on $presence.<topic>; the prefix is the hub's", "[loopback][presence]") {
    server s(presence_config(2, true), 2);
    client watcher;
    watcher.get(s.port(), "/events?topics=%24presence.chat");
    REQUIRE(watcher.wait_events(1));

    client wild;  // a pattern: no presence event
    wild.get(s.port(), "/events?topics=chat.*&user=carol");
    REQUIRE(wild.wait_events(1));
    client bob;
    bob.get(s.port(), "/events?topics=chat&user=bob");
    REQUIRE(bob.wait_events(1));
    REQUIRE(watcher.wait_events(2));
    CHECK(watcher.events[1].type == "join");
    const std::string bob_id = connection_id(bob);
    CHECK(watcher.events[1].data.find("\"id\":\"" + bob_id + "\"") != std::string::npos);
    CHECK(watcher.events[1].data.find("\"metadata\":{\"user\":\"bob\"}") != std::string::npos);
    CHECK(watcher.events[1].data.find("\"topic\":\"chat\"") != std::string::npos);
    bob.close();
    REQUIRE(watcher.wait_events(3));
    CHECK(watcher.events[2].type == "leave");
    CHECK(watcher.events[2].data.find(bob_id) != std::string::npos);

    CHECK(s.hub().publish(test::event_on({"$presence.chat"}, "forged")) == ssehub::error::invalid_topic);
    CHECK(count(s, "$presence.chat") == 1);
}

TEST_CASE("presence: async_disconnect by metadata ends those streams with the reason, others stay",
          "[loopback][presence]") {
    server s(presence_config(3), 2);
    client a1, a2, b;
    a1.get(s.port(), "/events?topics=news&user=alice");
    a2.get(s.port(), "/events?topics=sport&user=alice");
    b.get(s.port(), "/events?topics=news&user=bob");
    REQUIRE(a1.wait_events(1));
    REQUIRE(a2.wait_events(1));
    REQUIRE(b.wait_events(1));

    CHECK(test::run(s.hub().async_disconnect({"", {}}, "everyone")) == 0);  // an empty filter matches nothing
    CHECK(test::run(s.hub().async_disconnect({"", {{"user", "alice"}}}, "banned")) == 2);
    for (client* c : {&a1, &a2}) {
        REQUIRE(c->wait_closed());
        REQUIRE(c->events.size() == 2);
        CHECK(c->events[1].type == "disconnect");
        CHECK(c->events[1].data == "{\"reason\":\"banned\"}");
    }
    REQUIRE(test::poll_until([&] { return s.hub().stats(false).active_connections == 1; }));
    CHECK(count(s, "news") == 1);
    CHECK(test::run(s.hub().async_disconnect({"news", {}}, "topic closed")) == 1);
    REQUIRE(b.wait_closed());
    CHECK(b.events.back().data == "{\"reason\":\"topic closed\"}");
}

TEST_CASE("presence: an invalid topic is an error; the completion-token form", "[loopback][presence]") {
    server s(presence_config(1), 1);
    CHECK_THROWS_AS(test::run(s.hub().async_presence({{"a..b", {}}, 0, 10, {}})), std::system_error);
    std::promise<std::error_code> got;
    s.hub().async_presence_count("bad topic", [&](std::error_code ec, std::size_t) { got.set_value(ec); });
    CHECK(got.get_future().get() == ssehub::error::invalid_topic);
    std::promise<std::size_t> n;
    s.hub().async_presence({{"x", {}}, 0, 10, {}},
                           [&](std::error_code, ssehub::presence_page p) { n.set_value(p.total); });
    CHECK(n.get_future().get() == 0);
}
