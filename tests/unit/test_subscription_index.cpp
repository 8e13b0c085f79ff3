#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ssehub/topic.hpp"
#include "subscription_index.hpp"

using ssehub::detail::conn_slot;
using ssehub::detail::slot_set;
using ssehub::detail::subscription_index;

namespace {

std::vector<conn_slot> matched(const subscription_index& idx, std::string_view subject) {
    std::vector<conn_slot> out;
    idx.for_each_match(subject, [&out](conn_slot s) { out.push_back(s); });
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("slot_set inserts and erases, small and large", "[subscription_index]") {
    slot_set set;
    CHECK(set.insert(1));
    CHECK_FALSE(set.insert(1));
    CHECK(set.contains(1));
    CHECK(set.erase(1));
    CHECK_FALSE(set.erase(1));
    CHECK(set.empty());

    std::mt19937 rng(3);
    std::set<conn_slot> ref;
    for (int i = 0; i < 20000; ++i) {
        const conn_slot s = rng() % 300;
        if (rng() % 3 != 0) {
            CHECK(set.insert(s) == ref.insert(s).second);
        } else {
            CHECK(set.erase(s) == (ref.erase(s) == 1));
        }
        if (i % 97 == 0) {
            auto got = std::vector<conn_slot>(set.slots().begin(), set.slots().end());
            std::sort(got.begin(), got.end());
            REQUIRE(got == std::vector<conn_slot>(ref.begin(), ref.end()));
        }
    }
}

TEST_CASE("exact and wildcard routing", "[subscription_index]") {
    subscription_index idx;
    CHECK(idx.add("orders.eu", 1));
    CHECK_FALSE(idx.add("orders.eu", 1));  // duplicate: no-op
    CHECK(idx.add("orders.*", 2));
    CHECK(idx.add("orders.>", 3));
    CHECK(idx.add(">", 4));
    CHECK(idx.add("*.eu", 5));
    CHECK(idx.add("orders.eu", 5));
    CHECK(idx.pattern_count() == 5);
    CHECK(idx.subscription_count() == 6);

    CHECK(matched(idx, "orders.eu") == std::vector<conn_slot>{1, 2, 3, 4, 5, 5});
    CHECK(matched(idx, "orders.us") == std::vector<conn_slot>{2, 3, 4});
    CHECK(matched(idx, "orders.eu.x") == std::vector<conn_slot>{3, 4});
    CHECK(matched(idx, "orders") == std::vector<conn_slot>{4});
    CHECK(matched(idx, "Orders.eu") == std::vector<conn_slot>{4, 5});
    CHECK(idx.any_match("x"));

    CHECK(idx.remove(">", 4));
    CHECK_FALSE(idx.remove(">", 4));
    CHECK_FALSE(idx.remove("orders.eu", 99));
    CHECK_FALSE(idx.remove("never.*", 1));
    CHECK_FALSE(idx.any_match("x"));
    CHECK(matched(idx, "orders") == std::vector<conn_slot>{});

    for (auto [p, s] : std::vector<std::pair<const char*, conn_slot>>{
             {"orders.eu", 1}, {"orders.*", 2}, {"orders.>", 3}, {"*.eu", 5}, {"orders.eu", 5}}) {
        CHECK(idx.remove(p, s));
    }
    CHECK(idx.empty());
    CHECK(idx.pattern_count() == 0);
    CHECK(idx.trie_node_count() == 0);
}

TEST_CASE("routing equals brute-force matching over random subscriptions", "[subscription_index]") {
    std::mt19937 rng(12345);
    const std::vector<std::string> tokens = {"a", "b", "c"};
    const std::vector<std::string> subject_tokens = {"a", "b", "c", "d"};
    auto rnd = [&rng](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };

    auto random_pattern = [&] {
        const std::size_t n = 1 + rnd(4);
        std::string p;
        for (std::size_t i = 0; i < n; ++i) {
            if (i) p += '.';
            const std::size_t r = rnd(10);
            if (r < 2) p += '*';
            else if (r == 2 && i + 1 == n) p += '>';
            else p += tokens[rnd(tokens.size())];
        }
        REQUIRE(ssehub::topic::is_valid_pattern(p));
        return p;
    };
    auto random_subject = [&] {
        const std::size_t n = 1 + rnd(5);
        std::string s;
        for (std::size_t i = 0; i < n; ++i) {
            if (i) s += '.';
            s += subject_tokens[rnd(subject_tokens.size())];
        }
        return s;
    };

    subscription_index idx;
    std::set<std::pair<std::string, conn_slot>> ref;
    for (int iter = 0; iter < 6000; ++iter) {
        const std::string p = random_pattern();
        const conn_slot slot = static_cast<conn_slot>(rnd(40));
        if (rnd(3) != 0) {
            CHECK(idx.add(p, slot) == ref.emplace(p, slot).second);
        } else if (!ref.empty() && rnd(2) == 0) {
            auto it = ref.begin();
            std::advance(it, static_cast<long>(rnd(ref.size())));
            CHECK(idx.remove(it->first, it->second));
            ref.erase(it);
        } else {
            CHECK(idx.remove(p, slot) == (ref.erase({p, slot}) == 1));
        }
        if (iter % 10 == 0) {
            std::set<std::string> patterns;
            for (const auto& [pp, ss] : ref) patterns.insert(pp);
            REQUIRE(idx.pattern_count() == patterns.size());
            REQUIRE(idx.subscription_count() == ref.size());
            for (int k = 0; k < 5; ++k) {
                const std::string subject = random_subject();
                std::vector<conn_slot> expected;
                for (const auto& [pp, ss] : ref) {
                    if (ssehub::topic::matches(pp, subject)) expected.push_back(ss);
                }
                std::sort(expected.begin(), expected.end());
                CAPTURE(iter, subject);
                REQUIRE(matched(idx, subject) == expected);
                REQUIRE(idx.any_match(subject) == !expected.empty());
            }
        }
    }
    // Remove everything: the index returns to empty, trie included.
    for (const auto& [p, s] : ref) {
        CHECK(idx.remove(p, s));
    }
    CHECK(idx.empty());
    CHECK(idx.pattern_count() == 0);
    CHECK(idx.subscription_count() == 0);
    CHECK(idx.trie_node_count() == 0);
    CHECK(matched(idx, "a.b").empty());
}

TEST_CASE("10k subscribers on one topic join and leave one by one", "[subscription_index]") {
    constexpr conn_slot n = 10000;
    subscription_index idx;
    for (conn_slot s = 0; s < n; ++s) {
        idx.add("news.sport", s);
        idx.add("news.*", s);
    }
    CHECK(idx.pattern_count() == 2);
    std::size_t count = 0;
    idx.for_each_match("news.sport", [&count](conn_slot) { ++count; });
    CHECK(count == 2 * n);

    // Leave in an order unrelated to joining; each removal is O(1).
    std::vector<conn_slot> order(n);
    for (conn_slot s = 0; s < n; ++s) order[s] = s;
    std::shuffle(order.begin(), order.end(), std::mt19937(9));
    for (conn_slot i = 0; i < n; ++i) {
        REQUIRE(idx.remove("news.sport", order[i]));
        REQUIRE(idx.remove("news.*", order[i]));
        if (i == n / 2) {
            std::vector<conn_slot> got = matched(idx, "news.sport");
            std::vector<conn_slot> expected;
            for (conn_slot j = i + 1; j < n; ++j) {
                expected.push_back(order[j]);
                expected.push_back(order[j]);
            }
            std::sort(expected.begin(), expected.end());
            CHECK(got == expected);
        }
    }
    CHECK(idx.empty());
    CHECK(idx.trie_node_count() == 0);
}

TEST_CASE("members: the slots of one pattern as subscribed, not what it matches", "[subscription_index]") {
    subscription_index idx;
    auto members = [&](std::string_view p) {
        std::vector<conn_slot> out;
        if (const slot_set* m = idx.members(p)) out.assign(m->slots().begin(), m->slots().end());
        std::sort(out.begin(), out.end());
        return out;
    };
    idx.add("orders.eu", 1);
    idx.add("orders.eu", 2);
    idx.add("orders.*", 3);
    idx.add("orders.>", 4);
    idx.add("*.eu", 5);
    idx.add(">", 6);
    CHECK(members("orders.eu") == std::vector<conn_slot>{1, 2});
    CHECK(members("orders.*") == std::vector<conn_slot>{3});
    CHECK(members("orders.>") == std::vector<conn_slot>{4});
    CHECK(members("*.eu") == std::vector<conn_slot>{5});
    CHECK(members(">") == std::vector<conn_slot>{6});
    CHECK(idx.members("orders.us") == nullptr);
    CHECK(idx.members("orders") == nullptr);   // a trie node on the way, no pattern ends there
    CHECK(idx.members("*.us") == nullptr);
    CHECK(idx.members("orders.eu.>") == nullptr);
    idx.remove("orders.*", 3);
    CHECK(idx.members("orders.*") == nullptr);
    const auto nodes = idx.trie_node_count();
    (void)idx.members("a.b.*.>");  // a lookup creates no node
    CHECK(idx.trie_node_count() == nodes);
}
