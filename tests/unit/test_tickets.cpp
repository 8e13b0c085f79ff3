#include <catch2/catch.hpp>

#include <ssehub/base64.hpp>
#include <ssehub/error.hpp>
#include <ssehub/ticket_store.hpp>

#include "support/run_awaitable.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include "support/polling.hpp"

using namespace std::chrono_literals;

namespace {

using mock_clock = test::manual_clock;

using time_point = std::chrono::steady_clock::time_point;

ssehub::memory_ticket_store_config store_config(std::size_t max_tickets, std::function<time_point()> clock = {}) {
    ssehub::memory_ticket_store_config c;
    c.max_tickets = max_tickets;
    c.clock = std::move(clock);
    return c;
}

using test::run;

// ---- concept checks ----

// Each type misses one operation of the three (or gets its result wrong).
struct missing_take_type {
    asio::awaitable<std::error_code> async_put(std::string, std::string, std::chrono::milliseconds);
    asio::awaitable<std::optional<std::string>> async_get(std::string_view);
};
struct missing_put_type {
    asio::awaitable<std::optional<std::string>> async_get(std::string_view);
    asio::awaitable<std::optional<std::string>> async_take(std::string_view);
};
struct missing_get_type {  // the ticket_store of before: put and take only
    asio::awaitable<std::error_code> async_put(std::string, std::string, std::chrono::milliseconds);
    asio::awaitable<std::optional<std::string>> async_take(std::string_view);
};
struct non_atomic_take_type {  // a take that returns a bool says nothing of the value
    asio::awaitable<std::error_code> async_put(std::string, std::string, std::chrono::milliseconds);
    asio::awaitable<std::optional<std::string>> async_get(std::string_view);
    asio::awaitable<bool> async_take(std::string_view);
};
struct get_wrong_result_type {
    asio::awaitable<std::error_code> async_put(std::string, std::string, std::chrono::milliseconds);
    asio::awaitable<bool> async_get(std::string_view);
    asio::awaitable<std::optional<std::string>> async_take(std::string_view);
};

// A store defined only here, with a void put (failures would throw).
struct map_store {
    std::map<std::string, std::string, std::less<>> items;
    int puts = 0;
    asio::awaitable<void> async_put(std::string t, std::string v, std::chrono::milliseconds) {
        ++puts;
        items[std::move(t)] = std::move(v);
        co_return;
    }
    asio::awaitable<std::optional<std::string>> async_get(std::string_view t) {
        auto it = items.find(t);
        if (it == items.end()) co_return std::nullopt;
        co_return it->second;
    }
    asio::awaitable<std::optional<std::string>> async_take(std::string_view t) {
        auto it = items.find(t);
        if (it == items.end()) co_return std::nullopt;
        std::string v = std::move(it->second);
        items.erase(it);
        co_return v;
    }
};

static_assert(ssehub::ticket_store<ssehub::memory_ticket_store>);
static_assert(ssehub::ticket_store<ssehub::any_ticket_store>);
static_assert(ssehub::ticket_store<map_store>);
static_assert(!ssehub::ticket_store<missing_take_type>);
static_assert(!ssehub::ticket_store<missing_put_type>);
static_assert(!ssehub::ticket_store<missing_get_type>);
static_assert(!ssehub::ticket_store<non_atomic_take_type>);
static_assert(!ssehub::ticket_store<get_wrong_result_type>);
static_assert(!ssehub::ticket_store<int>);
static_assert(!std::is_constructible_v<ssehub::any_ticket_store, missing_take_type>);
static_assert(!std::is_constructible_v<ssehub::any_ticket_store, missing_get_type>);

}  // namespace

TEST_CASE("tickets: single use", "[tickets]") {
    ssehub::memory_ticket_store s;
    REQUIRE_FALSE(s.put("t1", "value-1", 30s));
    REQUIRE_FALSE(s.put("t2", "value-2", 30s));
    CHECK(s.size() == 2);
    CHECK(s.take("t1") == "value-1");
    CHECK_FALSE(s.take("t1"));  // second use refused
    CHECK_FALSE(s.take("unknown"));
    CHECK_FALSE(s.take(""));
    CHECK(s.take("t2") == "value-2");
    CHECK(s.size() == 0);
    // Same ticket put again: replaced, still one entry.
    REQUIRE_FALSE(s.put("t3", "a", 30s));
    REQUIRE_FALSE(s.put("t3", "b", 30s));
    CHECK(s.size() == 1);
    CHECK(s.take("t3") == "b");
    CHECK(s.put("t4", "v", 0ms) == std::errc::invalid_argument);
    CHECK(s.put("t4", "v", -1ms) == std::errc::invalid_argument);
    CHECK(s.size() == 0);
}

TEST_CASE("tickets: get reads without spending, take spends", "[tickets]") {
    mock_clock clock;
    ssehub::memory_ticket_store s(store_config(100, clock.fn()));
    REQUIRE_FALSE(s.put("t1", "value-1", 1s));
    CHECK(s.get("t1") == "value-1");
    CHECK(s.get("t1") == "value-1");  // still there
    CHECK(s.size() == 1);
    CHECK_FALSE(s.get("unknown"));
    CHECK(s.take("t1") == "value-1");
    CHECK_FALSE(s.get("t1"));  // taken
    REQUIRE_FALSE(s.put("t2", "value-2", 1s));
    clock.advance(1s);
    CHECK_FALSE(s.get("t2"));  // expired, and removed
    CHECK(s.size() == 0);
}

TEST_CASE("tickets: expiry with a mock clock", "[tickets]") {
    mock_clock clock;
    ssehub::memory_ticket_store s(store_config(100, clock.fn()));
    REQUIRE_FALSE(s.put("short", "s", 1000ms));
    REQUIRE_FALSE(s.put("long", "l", 60s));
    clock.advance(999ms);
    REQUIRE_FALSE(s.put("probe", "p", 1ms));
    CHECK(s.size() == 3);
    clock.advance(1ms);  // "short" and "probe" expire exactly now
    CHECK_FALSE(s.take("short"));
    CHECK(s.size() == 2);  // taking an expired ticket removes it
    // A put purges the rest of the expired tickets, with no thread of its own.
    REQUIRE_FALSE(s.put("new", "n", 10s));
    CHECK(s.size() == 2);
    CHECK_FALSE(s.take("probe"));
    CHECK(s.take("long") == "l");
    // Replacing a ticket moves its deadline.
    REQUIRE_FALSE(s.put("r", "1", 1s));
    REQUIRE_FALSE(s.put("r", "2", 5s));
    clock.advance(2s);
    CHECK(s.take("r") == "2");
    // A huge TTL does not overflow the clock.
    REQUIRE_FALSE(s.put("forever", "f", std::chrono::milliseconds::max()));
    clock.advance(std::chrono::hours(24 * 365 * 100));
    CHECK(s.take("forever") == "f");
}

TEST_CASE("tickets: capacity", "[tickets]") {
    mock_clock clock;
    ssehub::memory_ticket_store s(store_config(3, clock.fn()));
    REQUIRE_FALSE(s.put("a", "1", 1s));
    REQUIRE_FALSE(s.put("b", "2", 10s));
    REQUIRE_FALSE(s.put("c", "3", 10s));
    CHECK(s.put("d", "4", 10s) == ssehub::error::ticket_store_full);
    CHECK(s.size() == 3);
    CHECK_FALSE(s.put("c", "3b", 10s));  // replacing needs no room
    CHECK(s.take("c") == "3b");
    CHECK_FALSE(s.put("d", "4", 10s));  // taking made room
    CHECK(s.put("e", "5", 10s) == ssehub::error::ticket_store_full);
    clock.advance(1s);                   // "a" expires: purged on put, room again
    CHECK_FALSE(s.put("e", "5", 10s));
    CHECK(s.size() == 3);
    CHECK_FALSE(s.take("a"));

    ssehub::memory_ticket_store none(store_config(0));
    CHECK(none.put("x", "y", 1s) == ssehub::error::ticket_store_full);
}

TEST_CASE("tickets: one winner when many threads take the same ticket", "[tickets]") {
    ssehub::memory_ticket_store s;
    for (int round = 0; round < 50; ++round) {
        REQUIRE_FALSE(s.put("shared", "v", 10s));
        std::atomic<int> winners{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i) {
            threads.emplace_back([&s, &winners] {
                if (s.take("shared")) ++winners;
            });
        }
        for (auto& t : threads) t.join();
        CHECK(winners == 1);
    }
}

TEST_CASE("tickets: issue_ticket_value is random and url-safe", "[tickets]") {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string t = ssehub::issue_ticket_value();
        CHECK(t.size() == 43);  // 32 bytes
        const auto raw = ssehub::base64url::decode(t);
        REQUIRE(raw);
        CHECK(raw->size() == 32);
        seen.insert(t);
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("tickets: issue_ticket and take through the concept", "[tickets]") {
    SECTION("memory store, type-erased, shared with the caller") {
        auto mem = std::make_shared<ssehub::memory_ticket_store>();
        ssehub::any_ticket_store any(mem);
        const auto [ticket, read, first, second] = run(
            [](ssehub::any_ticket_store store)
                -> asio::awaitable<std::tuple<std::string, std::optional<std::string>, std::optional<std::string>,
                                              std::optional<std::string>>> {
                std::string t = co_await ssehub::issue_ticket(store, "tenant_id=A", 30s);
                auto r = co_await store.async_get(t);
                auto a = co_await store.async_take(t);
                auto b = co_await store.async_take(t);
                co_return std::tuple{t, r, a, b};
            }(any));
        CHECK(ticket.size() == 43);
        CHECK(read == "tenant_id=A");
        CHECK(first == "tenant_id=A");
        CHECK_FALSE(second);
        CHECK(mem->size() == 0);
    }
    SECTION("issue_ticket reports a full store") {
        ssehub::any_ticket_store any(std::in_place_type<ssehub::memory_ticket_store>,
                                     store_config(1));
        run([](ssehub::any_ticket_store store) -> asio::awaitable<int> {
            (void)co_await ssehub::issue_ticket(store, "v", 30s);
            co_return 0;
        }(any));
        try {
            run([](ssehub::any_ticket_store store) -> asio::awaitable<std::string> {
                co_return co_await ssehub::issue_ticket(store, "v", 30s);
            }(any));
            FAIL("expected std::system_error");
        } catch (const std::system_error& e) {
            CHECK(e.code() == ssehub::error::ticket_store_full);
        }
    }
    SECTION("a custom store with a void put, directly and type-erased") {
        map_store direct;
        const auto t = run([](map_store& s) -> asio::awaitable<std::string> {
            co_return co_await ssehub::issue_ticket(s, "x", 1s);
        }(direct));
        CHECK(direct.items.count(t) == 1);

        auto custom = std::make_shared<map_store>();
        ssehub::any_ticket_store any(custom);
        const auto [ec, value, again] = run(
            [](ssehub::any_ticket_store s) -> asio::awaitable<
                                               std::tuple<std::error_code, std::optional<std::string>,
                                                          std::optional<std::string>>> {
                auto e = co_await s.async_put("k", "v", 1s);
                auto a = co_await s.async_take("k");
                auto b = co_await s.async_take("k");
                co_return std::tuple{e, a, b};
            }(any));
        CHECK_FALSE(ec);
        CHECK(value == "v");
        CHECK_FALSE(again);
        CHECK(custom->puts == 1);
    }
}
