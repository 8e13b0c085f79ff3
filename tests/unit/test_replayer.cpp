#include <catch2/catch.hpp>

#include <ssehub/replayer.hpp>

#include "support/run_awaitable.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>
#include "support/polling.hpp"

using namespace std::chrono_literals;
using ssehub::stored_event;

namespace {

using mock_clock = test::manual_clock;

using time_point = std::chrono::steady_clock::time_point;
const time_point start_time = time_point(std::chrono::hours(1000));

stored_event stored(std::string id, std::vector<std::string> topics, ssehub::metadata group = {}, time_point at = start_time) {
    stored_event e;
    e.bytes = std::make_shared<const std::string>("id: " + id + "\n\n");
    e.id = std::move(id);
    e.topics = std::move(topics);
    e.group = std::move(group);
    e.at = at;
    return e;
}

// The ids of replayed events (carried beside each frame); each frame is the
// one stored under that id.
std::vector<std::string> ids(const ssehub::replay_result& r) {
    std::vector<std::string> out;
    for (const auto& e : r.events) {
        CHECK(*e.bytes == "id: " + e.id + "\n\n");
        out.push_back(e.id);
    }
    return out;
}

using test::run;

ssehub::memory_replayer_config config(std::size_t max_events, std::chrono::milliseconds max_age = 5min,
                                      std::function<time_point()> clock = {}) {
    ssehub::memory_replayer_config c;
    c.max_events = max_events;
    c.max_age = max_age;
    c.clock = std::move(clock);
    return c;
}

const std::vector<std::string> all = {">"};
const ssehub::metadata no_meta;

// ---- concept checks ----

struct missing_replay_type {
    asio::awaitable<void> async_store(stored_event);
};
struct missing_store_type {
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view, const std::vector<std::string>&,
                                                        const ssehub::metadata&, std::size_t);
};
struct wrong_result_type {
    asio::awaitable<void> async_store(stored_event);
    asio::awaitable<std::vector<ssehub::frame>> async_replay(std::string_view, const std::vector<std::string>&,
                                                             const ssehub::metadata&, std::size_t);
};
struct sync_only_type {  // right names, not awaitable
    void async_store(stored_event);
    ssehub::replay_result async_replay(std::string_view, const std::vector<std::string>&, const ssehub::metadata&,
                                       std::size_t);
};

// The fast path: both synchronous members, or neither.
struct sync_pair_type {
    asio::awaitable<void> async_store(stored_event);
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view, const std::vector<std::string>&,
                                                        const ssehub::metadata&, std::size_t);
    void store(stored_event);
    ssehub::replay_result replay(std::string_view, const std::vector<std::string>&, const ssehub::metadata&,
                                 std::size_t) const;
};
struct half_sync_store_type {  // store() without replay()
    asio::awaitable<void> async_store(stored_event);
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view, const std::vector<std::string>&,
                                                        const ssehub::metadata&, std::size_t);
    void store(stored_event);
};
struct half_sync_replay_type {  // replay() without store()
    asio::awaitable<void> async_store(stored_event);
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view, const std::vector<std::string>&,
                                                        const ssehub::metadata&, std::size_t);
    ssehub::replay_result replay(std::string_view, const std::vector<std::string>&, const ssehub::metadata&,
                                 std::size_t);
};
struct sync_without_async_type {  // the fast path alone is not a replayer
    void store(stored_event);
    ssehub::replay_result replay(std::string_view, const std::vector<std::string>&, const ssehub::metadata&,
                                 std::size_t);
};
struct sync_wrong_result_type {
    asio::awaitable<void> async_store(stored_event);
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view, const std::vector<std::string>&,
                                                        const ssehub::metadata&, std::size_t);
    void store(stored_event);
    std::vector<ssehub::frame> replay(std::string_view, const std::vector<std::string>&, const ssehub::metadata&,
                                      std::size_t);
};

static_assert(ssehub::replayer<ssehub::memory_replayer>);
static_assert(ssehub::sync_replayer<ssehub::memory_replayer>);
static_assert(ssehub::replayer<ssehub::any_replayer>);
static_assert(!ssehub::sync_replayer<ssehub::any_replayer>);
static_assert(ssehub::sync_replayer<sync_pair_type>);
static_assert(ssehub::replayer<half_sync_store_type> && !ssehub::sync_replayer<half_sync_store_type>);
static_assert(ssehub::replayer<half_sync_replay_type> && !ssehub::sync_replayer<half_sync_replay_type>);
static_assert(!std::is_constructible_v<ssehub::any_replayer, half_sync_store_type>);
static_assert(!std::is_constructible_v<ssehub::any_replayer, half_sync_replay_type>);
static_assert(!ssehub::replayer<sync_without_async_type> && !ssehub::sync_replayer<sync_without_async_type>);
static_assert(!ssehub::sync_replayer<sync_wrong_result_type>);
static_assert(!std::is_constructible_v<ssehub::any_replayer, sync_wrong_result_type>);
static_assert(std::is_constructible_v<ssehub::any_replayer, sync_pair_type>);
static_assert(!ssehub::replayer<missing_replay_type>);
static_assert(!ssehub::replayer<missing_store_type>);
static_assert(!ssehub::replayer<wrong_result_type>);
static_assert(!ssehub::replayer<sync_only_type>);
static_assert(!ssehub::replayer<int>);
static_assert(!std::is_constructible_v<ssehub::any_replayer, missing_replay_type>);
static_assert(std::is_constructible_v<ssehub::any_replayer, ssehub::memory_replayer>);
static_assert(std::is_constructible_v<ssehub::any_replayer, std::shared_ptr<ssehub::memory_replayer>>);

// A replayer defined only here: records every call, replays a fixed answer.
struct counting_replayer {
    std::vector<std::string> stored;
    std::vector<std::string> replayed_after;
    std::vector<std::string> last_patterns;
    ssehub::metadata last_meta;
    std::size_t last_max = 0;

    asio::awaitable<void> async_store(stored_event e) {
        stored.push_back(e.id);
        co_return;
    }
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view last_id,
                                                        const std::vector<std::string>& patterns,
                                                        const ssehub::metadata& meta, std::size_t max_events) {
        replayed_after.emplace_back(last_id);
        last_patterns = patterns;
        last_meta = meta;
        last_max = max_events;
        ssehub::replay_result r;
        r.known = last_id == "known";
        if (r.known) r.events.push_back({"r1", std::make_shared<const std::string>("id: r1\n\n")});
        co_return r;
    }
};
static_assert(ssehub::replayer<counting_replayer>);

// A replayer defined only here that offers the fast path: records which path
// each call took.
struct sync_recording_replayer {
    std::vector<std::string> calls;

    asio::awaitable<void> async_store(stored_event e) {
        calls.push_back("async_store " + e.id);
        co_return;
    }
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view last_id, const std::vector<std::string>&,
                                                        const ssehub::metadata&, std::size_t) {
        calls.push_back("async_replay " + std::string(last_id));
        co_return ssehub::replay_result{};
    }
    void store(stored_event e) { calls.push_back("store " + e.id); }
    ssehub::replay_result replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                 const ssehub::metadata&, std::size_t max_events) {
        calls.push_back("replay " + std::string(last_id) + " " + std::to_string(patterns.size()) + " " +
                        std::to_string(max_events));
        ssehub::replay_result r;
        r.known = true;
        r.events.push_back({"s1", std::make_shared<const std::string>("id: s1\n\n")});
        return r;
    }
};
static_assert(ssehub::sync_replayer<sync_recording_replayer>);

}  // namespace

TEST_CASE("replayer: resume after an id, in order", "[replayer]") {
    ssehub::memory_replayer r;
    for (int i = 1; i <= 5; ++i) r.store(stored(std::to_string(i), {"a"}));
    auto res = r.replay("2", all, no_meta, 100);
    CHECK(res.known);
    CHECK_FALSE(res.truncated);
    CHECK(ids(res) == std::vector<std::string>{"3", "4", "5"});
    // The newest id: known, nothing to send.
    res = r.replay("5", all, no_meta, 100);
    CHECK(res.known);
    CHECK(res.events.empty());
    // Unknown and empty ids.
    CHECK_FALSE(r.replay("nope", all, no_meta, 100).known);
    CHECK_FALSE(r.replay("", all, no_meta, 100).known);
    // Frames are shared with the store, not copied.
    CHECK(r.replay("4", all, no_meta, 1).events.at(0).bytes.use_count() >= 2);
}

TEST_CASE("replayer: eviction by count", "[replayer]") {
    ssehub::memory_replayer r(config(3));
    for (int i = 1; i <= 5; ++i) r.store(stored(std::to_string(i), {"a"}));
    CHECK(r.size() == 3);
    CHECK_FALSE(r.replay("1", all, no_meta, 100).known);
    CHECK_FALSE(r.replay("2", all, no_meta, 100).known);
    auto res = r.replay("3", all, no_meta, 100);
    CHECK(res.known);
    CHECK(ids(res) == std::vector<std::string>{"4", "5"});
    for (int i = 6; i <= 100; ++i) r.store(stored(std::to_string(i), {"a"}));
    CHECK(r.size() == 3);
    CHECK_FALSE(r.replay("97", all, no_meta, 100).known);
    CHECK(ids(r.replay("98", all, no_meta, 100)) == std::vector<std::string>{"99", "100"});

    ssehub::memory_replayer none(config(0));
    none.store(stored("1", {"a"}));
    CHECK(none.size() == 0);
    CHECK_FALSE(none.replay("1", all, no_meta, 10).known);
}

TEST_CASE("replayer: eviction by age with a mock clock", "[replayer]") {
    mock_clock clock;
    ssehub::memory_replayer r(config(100, 10s, clock.fn()));
    r.store(stored("1", {"a"}, {}, start_time));
    clock.advance(5s);
    r.store(stored("2", {"a"}, {}, start_time + 5s));
    clock.advance(4s);  // t0+9s: both young
    CHECK(ids(r.replay("1", all, no_meta, 10)) == std::vector<std::string>{"2"});
    clock.advance(1s);  // t0+10s: "1" is max_age old
    CHECK_FALSE(r.replay("1", all, no_meta, 10).known);  // expired in place, before any store
    auto res = r.replay("2", all, no_meta, 10);
    CHECK(res.known);
    CHECK(res.events.empty());
    CHECK(r.size() == 2);
    clock.advance(2s);  // t0+12s: a store evicts "1" for good
    r.store(stored("3", {"a"}, {}, start_time + 12s));
    CHECK(r.size() == 2);
    CHECK(ids(r.replay("2", all, no_meta, 10)) == std::vector<std::string>{"3"});
    clock.advance(20s);  // everything old
    CHECK_FALSE(r.replay("2", all, no_meta, 10).known);
    r.store(stored("4", {"a"}, {}, start_time + 32s));
    CHECK(r.size() == 1);
    CHECK_FALSE(r.replay("3", all, no_meta, 10).known);

    // max_age 0: no age limit.
    ssehub::memory_replayer forever(config(10, 0ms, clock.fn()));
    forever.store(stored("1", {"a"}, {}, start_time));
    forever.store(stored("2", {"a"}, {}, start_time));
    clock.advance(std::chrono::hours(24 * 365));
    CHECK(ids(forever.replay("1", all, no_meta, 10)) == std::vector<std::string>{"2"});
}

TEST_CASE("replayer: event TTL is honoured on replay", "[replayer]") {
    mock_clock clock;
    ssehub::memory_replayer r(config(10, 1h, clock.fn()));
    r.store(stored("1", {"a"}));
    auto short_lived = stored("2", {"a"});
    short_lived.expires = start_time + 1s;
    r.store(short_lived);
    r.store(stored("3", {"a"}));
    CHECK(ids(r.replay("1", all, no_meta, 10)) == std::vector<std::string>{"2", "3"});
    clock.advance(1s);
    CHECK(ids(r.replay("1", all, no_meta, 10)) == std::vector<std::string>{"3"});
}

TEST_CASE("replayer: filtered by wildcard patterns", "[replayer]") {
    ssehub::memory_replayer r;
    r.store(stored("0", {"x"}));
    r.store(stored("1", {"prices.acme"}));
    r.store(stored("2", {"prices.acme.eu"}));  // one token too many for prices.*
    r.store(stored("3", {"news.eu.fr"}));
    r.store(stored("4", {"chat.room1"}));
    r.store(stored("5", {"chat.room2", "prices.globex"}));  // any topic may match
    r.store(stored("6", {"news"}));                         // news.> needs one more token
    const std::vector<std::string> patterns = {"prices.*", "news.>"};
    CHECK(ids(r.replay("0", patterns, no_meta, 100)) == std::vector<std::string>{"1", "3", "5"});
    CHECK(ids(r.replay("0", {"chat.room1"}, no_meta, 100)) == std::vector<std::string>{"4"});
    CHECK(ids(r.replay("0", {}, no_meta, 100)).empty());
    CHECK(r.replay("0", {}, no_meta, 100).known);
}

TEST_CASE("replayer: filtered by group (tenant isolation)", "[replayer]") {
    ssehub::memory_replayer r;
    r.store(stored("0", {"t"}));
    r.store(stored("a1", {"orders"}, {{"tenant_id", "A"}}));
    r.store(stored("b1", {"orders"}, {{"tenant_id", "B"}}));
    r.store(stored("all", {"orders"}));                                 // topic only: every subscriber
    r.store(stored("a-only", {}, {{"tenant_id", "A"}}));                // group-only: by metadata alone
    r.store(stored("a-admin", {"orders"}, {{"tenant_id", "A"}, {"role", "admin"}}));
    r.store(stored("nobody", {}, {}));                                  // no target at all

    const std::vector<std::string> orders = {"orders"};
    const ssehub::metadata a = {{"tenant_id", "A"}, {"sub", "u1"}};
    const ssehub::metadata a_admin = {{"tenant_id", "A"}, {"role", "admin"}};
    const ssehub::metadata b = {{"tenant_id", "B"}};
    CHECK(ids(r.replay("0", orders, a, 100)) == std::vector<std::string>{"a1", "all", "a-only"});
    CHECK(ids(r.replay("0", orders, a_admin, 100)) == std::vector<std::string>{"a1", "all", "a-only", "a-admin"});
    CHECK(ids(r.replay("0", orders, b, 100)) == std::vector<std::string>{"b1", "all"});
    CHECK(ids(r.replay("0", orders, no_meta, 100)) == std::vector<std::string>{"all"});
    // Group-only events ignore the patterns; topic events need both.
    CHECK(ids(r.replay("0", {"other"}, a, 100)) == std::vector<std::string>{"a-only"});
}

TEST_CASE("replayer: capped, with truncated", "[replayer]") {
    ssehub::memory_replayer r;
    r.store(stored("0", {"a"}));
    for (int i = 1; i <= 10; ++i) r.store(stored(std::to_string(i), {i % 2 ? "odd" : "even"}));
    auto res = r.replay("0", {"odd"}, no_meta, 3);
    CHECK(res.known);
    CHECK(res.truncated);
    CHECK(ids(res) == std::vector<std::string>{"1", "3", "5"});
    res = r.replay("0", {"odd"}, no_meta, 5);  // exactly the number that match
    CHECK_FALSE(res.truncated);
    CHECK(ids(res) == std::vector<std::string>{"1", "3", "5", "7", "9"});
    res = r.replay("8", {"odd"}, no_meta, 1);  // non-matching events after the cap do not truncate
    CHECK_FALSE(res.truncated);
    CHECK(ids(res) == std::vector<std::string>{"9"});
    res = r.replay("0", {"odd"}, no_meta, 0);
    CHECK(res.truncated);
    CHECK(res.events.empty());
}

TEST_CASE("replayer: repeated and empty ids", "[replayer]") {
    ssehub::memory_replayer r(config(4));
    r.store(stored("x", {"a"}));
    r.store(stored("1", {"a"}));
    r.store(stored("x", {"a"}));  // the id repeats: resume after the newest
    r.store(stored("2", {"a"}));
    CHECK(ids(r.replay("x", all, no_meta, 10)) == std::vector<std::string>{"2"});
    r.store(stored("3", {"a"}));  // evicts the first "x": the index keeps the second
    CHECK(ids(r.replay("x", all, no_meta, 10)) == std::vector<std::string>{"2", "3"});
    r.store(stored("", {"a"}));  // stored and replayed, never a resume point
    CHECK(r.replay("2", all, no_meta, 10).events.size() == 2);
    CHECK_FALSE(r.replay("", all, no_meta, 10).known);
}

TEST_CASE("replayer: awaitable forms and any_replayer", "[replayer]") {
    SECTION("memory_replayer through any_replayer") {
        ssehub::any_replayer any = ssehub::memory_replayer(config(10));
        REQUIRE(any);
        CHECK(any.has_sync());
        const auto copy = any;  // a handle: copies share the store
        run([](ssehub::any_replayer a) -> asio::awaitable<int> {
            // Events built outside the co_await expression: GCC 12 miscompiles
            // braced lists inside it ("array used as initializer").
            auto e1 = stored("1", {"a"});
            auto e2 = stored("2", {"a"});
            co_await a.async_store(std::move(e1));
            co_await a.async_store(std::move(e2));
            co_return 0;
        }(any));
        const std::vector<std::string> patterns = {"a"};
        const auto res = run(copy.async_replay("1", patterns, no_meta, 10));
        CHECK(res.known);
        CHECK(ids(res) == std::vector<std::string>{"2"});
        // The fast path reaches the same store.
        copy.store_now(stored("3", {"a"}));
        CHECK(ids(copy.replay_now("1", patterns, no_meta, 10)) == std::vector<std::string>{"2", "3"});
        CHECK(ids(run(any.async_replay("2", patterns, no_meta, 10))) == std::vector<std::string>{"3"});
        CHECK_FALSE(ssehub::any_replayer{});
    }
    SECTION("a custom replayer plugged in through the concept") {
        auto rec = std::make_shared<counting_replayer>();
        ssehub::any_replayer any(rec);
        CHECK_FALSE(any.has_sync());  // awaitable only
        const std::vector<std::string> patterns = {"p.*"};
        const ssehub::metadata meta = {{"tenant_id", "A"}};
        auto res = run([](ssehub::any_replayer a, std::vector<std::string> p,
                          ssehub::metadata m) -> asio::awaitable<ssehub::replay_result> {
            auto e1 = stored("e1", {"p.x"});
            auto e2 = stored("e2", {"p.y"});
            co_await a.async_store(std::move(e1));
            co_await a.async_store(std::move(e2));
            auto unknown = co_await a.async_replay("old", p, m, 7);
            if (unknown.known) throw std::logic_error("expected unknown");
            co_return co_await a.async_replay("known", p, m, 5);
        }(any, patterns, meta));
        CHECK(res.known);
        CHECK(ids(res) == std::vector<std::string>{"r1"});
        CHECK(rec->stored == std::vector<std::string>{"e1", "e2"});
        CHECK(rec->replayed_after == std::vector<std::string>{"old", "known"});
        CHECK(rec->last_patterns == patterns);
        CHECK(rec->last_meta == meta);
        CHECK(rec->last_max == 5);
    }
    SECTION("a custom replayer's fast path, through any_replayer") {
        auto rec = std::make_shared<sync_recording_replayer>();
        const ssehub::any_replayer any(rec);
        REQUIRE(any.has_sync());
        any.store_now(stored("e1", {"a"}));
        const auto res = any.replay_now("e0", all, no_meta, 9);
        CHECK(res.known);
        CHECK(ids(res) == std::vector<std::string>{"s1"});
        run([](ssehub::any_replayer a) -> asio::awaitable<int> {  // the awaitable path stays the replayer's own
            auto e2 = stored("e2", {"a"});
            co_await a.async_store(std::move(e2));
            co_return 0;
        }(any));
        CHECK(rec->calls == std::vector<std::string>{"store e1", "replay e0 1 9", "async_store e2"});
    }
    SECTION("the handle keeps the replayer alive during a call") {
        auto rec = std::make_shared<counting_replayer>();
        std::weak_ptr<counting_replayer> weak = rec;
        auto op = ssehub::any_replayer(std::move(rec)).async_store(stored("z", {"a"}));  // every handle gone
        CHECK_FALSE(weak.expired());
        run([](asio::awaitable<void> o) -> asio::awaitable<int> {
            co_await std::move(o);
            co_return 0;
        }(std::move(op)));
        CHECK(weak.expired());
    }
}

TEST_CASE("replay_matches: the rule every replayer filters by", "[replayer]") {
    using ssehub::replay_matches;
    const std::vector<std::string> patterns = {"prices.*", "news.>"};
    const ssehub::metadata a = {{"tenant_id", "A"}, {"role", "admin"}};
    CHECK(replay_matches({"prices.acme"}, {}, patterns, {}));
    CHECK(replay_matches({"x", "news.eu.fr"}, {}, patterns, {}));  // any topic
    CHECK_FALSE(replay_matches({"prices.acme.eu"}, {}, patterns, {}));
    CHECK_FALSE(replay_matches({"prices.acme"}, {}, {}, a));  // no pattern
    CHECK(replay_matches({"prices.acme"}, {{"tenant_id", "A"}}, patterns, a));
    CHECK_FALSE(replay_matches({"prices.acme"}, {{"tenant_id", "B"}}, patterns, a));
    CHECK_FALSE(replay_matches({"prices.acme"}, {{"tenant_id", "A"}, {"x", "1"}}, patterns, a));  // every pair
    CHECK(replay_matches({}, {{"tenant_id", "A"}}, {}, a));    // group-only: by metadata alone
    CHECK_FALSE(replay_matches({}, {{"tenant_id", "A"}}, patterns, {}));
    CHECK_FALSE(replay_matches({}, {}, patterns, a));          // no target at all
}

TEST_CASE("replayer: a moved replayer keeps its index", "[replayer]") {
    ssehub::memory_replayer a(config(3));
    for (int i = 1; i <= 3; ++i) a.store(stored("long-id-beyond-sso-" + std::to_string(i), {"t"}));
    ssehub::memory_replayer b(std::move(a));
    CHECK(ids(b.replay("long-id-beyond-sso-1", all, no_meta, 10)) ==
          std::vector<std::string>{"long-id-beyond-sso-2", "long-id-beyond-sso-3"});
    b.store(stored("x", {"t"}));  // evicts -1 through the moved index
    CHECK_FALSE(b.replay("long-id-beyond-sso-1", all, no_meta, 10).known);
    ssehub::memory_replayer c;
    c = std::move(b);
    CHECK(ids(c.replay("long-id-beyond-sso-3", all, no_meta, 10)) == std::vector<std::string>{"x"});
    static_assert(!std::is_copy_constructible_v<ssehub::memory_replayer>);
}
