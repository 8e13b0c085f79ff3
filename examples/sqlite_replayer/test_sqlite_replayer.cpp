// Tests of the example sqlite_replayer: the replayer contract (as
// tests/unit/test_replayer.cpp pins it for memory_replayer), durability across
// a close and reopen, and a hub serving from it across a hub restart.
#include "sqlite_replayer.hpp"

#include "support/harness.hpp"

#include <ssehub/replayer.hpp>

#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using sqlite_example::sqlite_replayer;
using sqlite_example::sqlite_replayer_config;
using ssehub::stored_event;

namespace {

using wall = std::chrono::system_clock::time_point;

// A fresh directory per test, removed with everything in it.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        char t[] = "/tmp/sqlite_replayer_test_XXXXXX";
        if (!::mkdtemp(t)) throw std::runtime_error("mkdtemp failed");
        path = t;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const char* name = "replay.db") const { return (path / name).string(); }
};

struct mock_clock {
    std::shared_ptr<wall> now = std::make_shared<wall>(std::chrono::sys_days(std::chrono::year(2026) / 1 / 1));
    std::function<wall()> fn() const {
        return [n = now] { return *n; };
    }
    void advance(std::chrono::milliseconds d) const { *now += d; }
};

sqlite_replayer_config config(std::string path, std::size_t max_events = 100, std::chrono::milliseconds max_age = 5min,
                              std::function<wall()> clock = {}) {
    sqlite_replayer_config c;
    c.path = std::move(path);
    c.max_events = max_events;
    c.max_age = max_age;
    c.clock = std::move(clock);
    return c;
}

stored_event ev(std::string id, std::vector<std::string> topics, ssehub::metadata group = {}) {
    stored_event e;
    e.bytes = std::make_shared<const std::string>("id: " + id + "\ndata: x\n\n");
    e.id = std::move(id);
    e.topics = std::move(topics);
    e.group = std::move(group);
    e.at = std::chrono::steady_clock::now();
    return e;
}

// The ids of replayed events; each frame is the one stored under its id.
std::vector<std::string> ids(const ssehub::replay_result& r) {
    std::vector<std::string> out;
    for (const auto& e : r.events) {
        CHECK(*e.bytes == "id: " + e.id + "\ndata: x\n\n");
        out.push_back(e.id);
    }
    return out;
}

using strings = std::vector<std::string>;
const strings all = {">"};
const ssehub::metadata no_meta;

// Concept checks: the example is a replayer with the fast path; a type that
// misses any one operation is not.
struct no_store {
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view, const strings&, const ssehub::metadata&,
                                                        std::size_t);
    void store(stored_event);
    ssehub::replay_result replay(std::string_view, const strings&, const ssehub::metadata&, std::size_t);
};
struct no_replay {
    asio::awaitable<void> async_store(stored_event);
    void store(stored_event);
    ssehub::replay_result replay(std::string_view, const strings&, const ssehub::metadata&, std::size_t);
};
static_assert(ssehub::replayer<sqlite_replayer>);
static_assert(ssehub::sync_replayer<sqlite_replayer>);
static_assert(!ssehub::replayer<no_store>);
static_assert(!ssehub::replayer<no_replay>);
static_assert(!std::is_copy_constructible_v<sqlite_replayer>);

}  // namespace

TEST_CASE("sqlite_replayer: resume after an id, in order; unknown and empty ids", "[sqlite]") {
    temp_dir dir;
    sqlite_replayer r(config(dir.file()));
    for (int i = 1; i <= 5; ++i) r.store(ev(std::to_string(i), {"a"}));
    auto res = r.replay("2", all, no_meta, 100);
    CHECK(res.known);
    CHECK_FALSE(res.truncated);
    CHECK(ids(res) == strings{"3", "4", "5"});
    res = r.replay("5", all, no_meta, 100);  // the newest: known, nothing after it
    CHECK(res.known);
    CHECK(res.events.empty());
    CHECK_FALSE(r.replay("nope", all, no_meta, 100).known);
    CHECK_FALSE(r.replay("", all, no_meta, 100).known);
    CHECK(r.newest_id() == "5");
    // A repeated id resumes after its newest occurrence.
    r.store(ev("2", {"a"}));
    r.store(ev("6", {"a"}));
    CHECK(ids(r.replay("2", all, no_meta, 100)) == strings{"6"});
}

TEST_CASE("sqlite_replayer: bounded by count", "[sqlite]") {
    temp_dir dir;
    sqlite_replayer r(config(dir.file(), 3));
    for (int i = 1; i <= 5; ++i) r.store(ev(std::to_string(i), {"a"}));
    CHECK(r.size() == 3);
    CHECK_FALSE(r.replay("1", all, no_meta, 100).known);
    CHECK_FALSE(r.replay("2", all, no_meta, 100).known);
    CHECK(ids(r.replay("3", all, no_meta, 100)) == strings{"4", "5"});
    for (int i = 6; i <= 50; ++i) r.store(ev(std::to_string(i), {"a"}));
    CHECK(r.size() == 3);
    CHECK_FALSE(r.replay("47", all, no_meta, 100).known);
    CHECK(ids(r.replay("48", all, no_meta, 100)) == strings{"49", "50"});

    // Mercure's `earliest`: every event still kept.
    temp_dir dir_e;
    auto ce = config(dir_e.file(), 3);
    ce.earliest_id = "earliest";
    sqlite_replayer e(ce);
    CHECK_FALSE(e.replay("earliest", all, no_meta, 100).events.size());
    for (int i = 1; i <= 5; ++i) e.store(ev(std::to_string(i), {"a"}));
    const auto everything = e.replay("earliest", all, no_meta, 100);
    CHECK(everything.known);
    CHECK(ids(everything) == strings{"3", "4", "5"});
    CHECK_FALSE(r.replay("earliest", all, no_meta, 100).known);  // only where configured

    temp_dir dir0;
    sqlite_replayer none(config(dir0.file(), 0));
    none.store(ev("1", {"a"}));
    CHECK(none.size() == 0);
    CHECK_FALSE(none.replay("1", all, no_meta, 10).known);
}

TEST_CASE("sqlite_replayer: bounded by age (wall clock)", "[sqlite]") {
    temp_dir dir;
    mock_clock clock;
    sqlite_replayer r(config(dir.file(), 100, 10s, clock.fn()));
    r.store(ev("1", {"a"}));
    clock.advance(5s);
    r.store(ev("2", {"a"}));
    clock.advance(4s);  // 9 s: both young
    CHECK(ids(r.replay("1", all, no_meta, 10)) == strings{"2"});
    clock.advance(1s);  // 10 s: "1" is max_age old
    CHECK_FALSE(r.replay("1", all, no_meta, 10).known);  // gone in effect before any store
    auto res = r.replay("2", all, no_meta, 10);
    CHECK(res.known);
    CHECK(res.events.empty());
    CHECK(r.size() == 2);
    clock.advance(2s);  // a store deletes "1" for good
    r.store(ev("3", {"a"}));
    CHECK(r.size() == 2);
    CHECK(ids(r.replay("2", all, no_meta, 10)) == strings{"3"});
    clock.advance(1min);  // everything old
    CHECK_FALSE(r.replay("3", all, no_meta, 10).known);
    r.store(ev("4", {"a"}));
    CHECK(r.size() == 1);

    temp_dir dir2;
    sqlite_replayer forever(config(dir2.file(), 10, 0ms, clock.fn()));  // 0: no age limit
    forever.store(ev("1", {"a"}));
    forever.store(ev("2", {"a"}));
    clock.advance(std::chrono::hours(24 * 365));
    CHECK(ids(forever.replay("1", all, no_meta, 10)) == strings{"2"});
}

TEST_CASE("sqlite_replayer: an event's TTL is honoured on replay", "[sqlite]") {
    temp_dir dir;
    mock_clock clock;
    sqlite_replayer r(config(dir.file(), 10, 1h, clock.fn()));
    r.store(ev("1", {"a"}));
    auto short_lived = ev("2", {"a"});
    short_lived.expires = short_lived.at + 1s;
    r.store(short_lived);
    r.store(ev("3", {"a"}));
    CHECK(ids(r.replay("1", all, no_meta, 10)) == strings{"2", "3"});
    clock.advance(999ms);
    CHECK(ids(r.replay("1", all, no_meta, 10)) == strings{"2", "3"});
    clock.advance(1ms);
    CHECK(ids(r.replay("1", all, no_meta, 10)) == strings{"3"});
}

TEST_CASE("sqlite_replayer: filtered by topic patterns", "[sqlite]") {
    temp_dir dir;
    sqlite_replayer r(config(dir.file()));
    r.store(ev("0", {"x"}));
    r.store(ev("1", {"prices.acme"}));
    r.store(ev("2", {"prices.acme.eu"}));  // one token too many for prices.*
    r.store(ev("3", {"news.eu.fr"}));
    r.store(ev("4", {"chat.room1"}));
    r.store(ev("5", {"chat.room2", "prices.globex"}));  // any topic may match
    r.store(ev("6", {"news"}));                         // news.> needs one more token
    CHECK(ids(r.replay("0", {"prices.*", "news.>"}, no_meta, 100)) == strings{"1", "3", "5"});
    CHECK(ids(r.replay("0", {"chat.room1"}, no_meta, 100)) == strings{"4"});
    const auto none = r.replay("0", {}, no_meta, 100);
    CHECK(none.known);
    CHECK(none.events.empty());
}

TEST_CASE("sqlite_replayer: filtered by group (tenant isolation)", "[sqlite]") {
    temp_dir dir;
    sqlite_replayer r(config(dir.file()));
    r.store(ev("0", {"t"}));
    r.store(ev("a1", {"orders"}, {{"tenant_id", "A"}}));
    r.store(ev("b1", {"orders"}, {{"tenant_id", "B"}}));
    r.store(ev("all", {"orders"}));
    r.store(ev("a-only", {}, {{"tenant_id", "A"}}));  // group-only: by metadata alone
    r.store(ev("a-admin", {"orders"}, {{"tenant_id", "A"}, {"role", "admin"}}));
    r.store(ev("odd", {"orders"}, {{"k:1", "v\n2:3"}}));  // separators inside keys and values
    r.store(ev("nobody", {}, {}));
    const strings orders = {"orders"};
    const ssehub::metadata a = {{"tenant_id", "A"}, {"sub", "u1"}};
    const ssehub::metadata a_admin = {{"tenant_id", "A"}, {"role", "admin"}};
    const ssehub::metadata b = {{"tenant_id", "B"}};
    CHECK(ids(r.replay("0", orders, a, 100)) == strings{"a1", "all", "a-only"});
    CHECK(ids(r.replay("0", orders, a_admin, 100)) == strings{"a1", "all", "a-only", "a-admin"});
    CHECK(ids(r.replay("0", orders, b, 100)) == strings{"b1", "all"});
    CHECK(ids(r.replay("0", orders, no_meta, 100)) == strings{"all"});
    CHECK(ids(r.replay("0", orders, {{"k:1", "v\n2:3"}}, 100)) == strings{"all", "odd"});
    CHECK(ids(r.replay("0", orders, {{"k:1", "v\n2"}}, 100)) == strings{"all"});
    CHECK(ids(r.replay("0", {"other"}, a, 100)) == strings{"a-only"});
}

TEST_CASE("sqlite_replayer: capped, with truncated", "[sqlite]") {
    temp_dir dir;
    sqlite_replayer r(config(dir.file()));
    r.store(ev("0", {"a"}));
    for (int i = 1; i <= 10; ++i) r.store(ev(std::to_string(i), {i % 2 ? "odd" : "even"}));
    auto res = r.replay("0", {"odd"}, no_meta, 3);
    CHECK(res.known);
    CHECK(res.truncated);
    CHECK(ids(res) == strings{"1", "3", "5"});
    res = r.replay("0", {"odd"}, no_meta, 5);  // exactly the number that match
    CHECK_FALSE(res.truncated);
    CHECK(ids(res) == strings{"1", "3", "5", "7", "9"});
    res = r.replay("8", {"odd"}, no_meta, 1);  // non-matching events after the cap do not truncate
    CHECK_FALSE(res.truncated);
    CHECK(ids(res) == strings{"9"});
}

TEST_CASE("sqlite_replayer: survives a close and reopen; one process per file", "[sqlite]") {
    temp_dir dir;
    mock_clock clock;
    {
        sqlite_replayer r(config(dir.file(), 100, 1min, clock.fn()));
        r.store(ev("1", {"a"}));
        r.store(ev("2", {"b"}, {{"tenant_id", "A"}}));
        auto ttl = ev("3", {"a"});
        ttl.expires = ttl.at + 30s;
        r.store(ttl);
        // WAL: the log file sits beside the database while it is open.
        CHECK(std::filesystem::exists(dir.file("replay.db-wal")));
        // A second user of the same file fails at once, saying why.
        CHECK_THROWS_WITH(sqlite_replayer(config(dir.file())), Catch::Contains("locked"));
    }
    clock.advance(10s);
    {
        sqlite_replayer r(config(dir.file(), 100, 1min, clock.fn()));
        CHECK(r.size() == 3);
        CHECK(r.newest_id() == "3");
        CHECK(ids(r.replay("1", all, {{"tenant_id", "A"}}, 10)) == strings{"2", "3"});
        CHECK(ids(r.replay("1", all, no_meta, 10)) == strings{"3"});
        r.store(ev("4", {"a"}));  // continues after the stored ones
        CHECK(ids(r.replay("3", all, no_meta, 10)) == strings{"4"});
    }
    clock.advance(25s);  // 35 s: the TTL of "3" has passed, across the restart
    {
        sqlite_replayer r(config(dir.file(), 100, 1min, clock.fn()));
        CHECK(ids(r.replay("1", all, no_meta, 10)) == strings{"4"});
    }
    {
        // Smaller bounds apply at open: only the newest two are kept.
        sqlite_replayer r(config(dir.file(), 2, 1min, clock.fn()));
        CHECK(r.size() == 2);
        CHECK_FALSE(r.replay("2", all, no_meta, 10).known);
        CHECK(ids(r.replay("3", all, no_meta, 10)) == strings{"4"});
    }
    clock.advance(2min);
    {
        sqlite_replayer r(config(dir.file(), 100, 1min, clock.fn()));  // everything aged out while closed
        CHECK(r.size() == 0);
        CHECK_FALSE(r.replay("4", all, no_meta, 10).known);
    }
    CHECK_THROWS_WITH(sqlite_replayer(config((dir.path / "no" / "such" / "dir.db").string())),
                      Catch::Contains("cannot open"));
}

TEST_CASE("sqlite_replayer: several events per commit: replays see them, a clean close commits them", "[sqlite]") {
    temp_dir dir;
    auto c = config(dir.file(), 3);
    c.events_per_commit = 4;
    {
        sqlite_replayer r(c);
        for (int i = 1; i <= 6; ++i) r.store(ev(std::to_string(i), {"a"}));  // one commit, two pending
        CHECK(r.size() == 3);                                                 // bounds hold inside a batch
        CHECK_FALSE(r.replay("3", all, no_meta, 10).known);
        CHECK(ids(r.replay("4", all, no_meta, 10)) == strings{"5", "6"});
        sqlite_replayer moved(std::move(r));  // the open transaction moves with it
        moved.store(ev("7", {"a"}));
        CHECK(ids(moved.replay("5", all, no_meta, 10)) == strings{"6", "7"});
    }
    sqlite_replayer r(c);
    CHECK(r.newest_id() == "7");
    CHECK(ids(r.replay("5", all, no_meta, 10)) == strings{"6", "7"});
}

TEST_CASE("sqlite_replayer: through any_replayer, by its fast path", "[sqlite]") {
    temp_dir dir;
    ssehub::any_replayer any(std::in_place_type<sqlite_replayer>, config(dir.file()));
    REQUIRE(any.has_sync());
    any.store_now(ev("1", {"a"}));
    any.store_now(ev("2", {"a"}));
    CHECK(ids(any.replay_now("1", all, no_meta, 10)) == strings{"2"});
}

TEST_CASE("sqlite_replayer: a hub restarted on the same file replays what a client missed", "[sqlite][loopback]") {
    temp_dir dir;
    auto hub_config = [&] {
        ssehub::hub_config cfg;
        cfg.replayer = ssehub::any_replayer(std::in_place_type<sqlite_replayer>, config(dir.file()));
        return cfg;
    };
    auto event = [](std::string data) {
        ssehub::event e;
        e.topics.push_back("feed");
        e.data = std::move(data);
        return e;
    };
    std::string last;
    std::vector<std::string> before_ids;
    {
        test::server s(hub_config());
        test::client c;
        c.get(s.port(), "/events?topics=feed");
        REQUIRE(c.wait_events(1));
        REQUIRE(test::poll_until([&] { return s.hub().stats().active_connections == 1; }));
        s.publish_sync(event("seen"));
        REQUIRE(c.wait_events(2));
        last = c.events[1].id;
        c.close();
        REQUIRE(test::poll_until([&] { return s.hub().stats().active_connections == 0; }));
        before_ids.push_back(s.publish_sync(event("missed 1")).id);
        before_ids.push_back(s.publish_sync(event("missed 2")).id);
    }  // the hub and its replayer are gone; the file stays
    test::server s(hub_config());
    const auto after = s.publish_sync(event("after restart")).id;
    CHECK(after > before_ids.back());  // ids keep sorting after a restart (the prefix is the start time)
    test::client again;
    again.get(s.port(), "/events?topics=feed", "Last-Event-ID: " + last + "\r\n");
    REQUIRE(again.wait_events(4));
    CHECK(again.events[1].data == "missed 1");
    CHECK(again.events[2].data == "missed 2");
    CHECK(again.events[3].data == "after restart");
    CHECK(again.events[3].id == after);
    again.read_until([] { return false; }, 50ms);
    CHECK(again.events.size() == 4);  // nothing twice
}
