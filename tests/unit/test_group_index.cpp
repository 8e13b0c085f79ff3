#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "group_index.hpp"

using ssehub::metadata;
using ssehub::detail::conn_slot;
using ssehub::detail::group_index;

namespace {

std::vector<conn_slot> route(const group_index& idx, const std::map<conn_slot, metadata>& conns, const metadata& group) {
    std::vector<conn_slot> out;
    idx.for_each_candidate(group, [&](conn_slot s) {
        if (group_index::matches(conns.at(s), group)) out.push_back(s);
    });
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("group matching semantics", "[group_index]") {  // the index's and the public ssehub::group_matches
    using match_fn = bool (*)(const metadata&, const metadata&) noexcept;
    const match_fn both[] = {&group_index::matches, &ssehub::group_matches};
    for (const match_fn matches : both) {
        const metadata conn = {{"team", "red"}, {"role", "admin"}, {"empty", ""}};
        CHECK(matches(conn, {}));  // an empty group matches everything
        CHECK(matches(conn, {{"team", "red"}}));
        CHECK(matches(conn, {{"team", "red"}, {"role", "admin"}}));
        CHECK_FALSE(matches(conn, {{"team", "blue"}}));
        CHECK_FALSE(matches(conn, {{"team", "Red"}}));
        CHECK_FALSE(matches(conn, {{"team", "red"}, {"role", "user"}}));
        CHECK_FALSE(matches(conn, {{"missing", ""}}));  // a missing key never matches
        CHECK(matches(conn, {{"empty", ""}}));          // empty matches only empty
        CHECK_FALSE(matches(conn, {{"empty", "x"}}));
        CHECK_FALSE(matches({{"team", ""}}, {{"team", "red"}}));
        CHECK(matches({}, {}));
        CHECK_FALSE(matches({}, {{"a", "b"}}));
    }
}

TEST_CASE("candidates come from the smallest member set", "[group_index]") {
    group_index idx;
    std::map<conn_slot, metadata> conns;
    for (conn_slot s = 0; s < 100; ++s) {
        conns[s] = {{"tenant", "acme"}, {"user", std::to_string(s)}};
        idx.add(s, conns[s]);
    }
    conns[100] = {{"tenant", "other"}, {"user", "7"}};
    idx.add(100, conns[100]);

    std::vector<conn_slot> visited;
    const metadata g = {{"tenant", "acme"}, {"user", "7"}};
    idx.for_each_candidate(g, [&](conn_slot s) { visited.push_back(s); });
    std::sort(visited.begin(), visited.end());
    CHECK(visited == std::vector<conn_slot>{7, 100});  // the "user=7" set, not the 100 acme ones
    CHECK(idx.candidate_count(g) == 2);
    CHECK(route(idx, conns, g) == std::vector<conn_slot>{7});

    CHECK(idx.candidate_count({{"tenant", "acme"}, {"user", "nobody"}}) == 0);
    CHECK(route(idx, conns, {{"tenant", "acme"}, {"user", "nobody"}}).empty());
    CHECK(route(idx, conns, {{"unknown", "x"}}).empty());
    CHECK(idx.candidate_count({}) == 0);  // an empty group: routed by topic instead

    for (auto& [s, m] : conns) idx.remove(s, m);
    CHECK(idx.empty());
    CHECK(idx.pair_count() == 0);
}

TEST_CASE("group routing equals brute force over random metadata", "[group_index]") {
    std::mt19937 rng(42);
    auto rnd = [&rng](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
    const std::vector<std::string> keys = {"k1", "k2", "k3"};
    const std::vector<std::string> values = {"", "x", "y"};
    auto random_meta = [&](std::size_t max_pairs) {
        metadata m;
        const std::size_t n = rnd(max_pairs + 1);
        for (std::size_t i = 0; i < n; ++i) m[keys[rnd(keys.size())]] = values[rnd(values.size())];
        return m;
    };

    group_index idx;
    std::map<conn_slot, metadata> conns;
    for (int iter = 0; iter < 3000; ++iter) {
        const conn_slot s = static_cast<conn_slot>(rnd(60));
        if (auto it = conns.find(s); it != conns.end()) {
            idx.remove(s, it->second);
            conns.erase(it);
        } else {
            conns[s] = random_meta(3);
            idx.add(s, conns[s]);
        }
        metadata g = random_meta(3);
        if (g.empty()) continue;
        std::vector<conn_slot> expected;
        for (const auto& [cs, m] : conns) {
            if (group_index::matches(m, g)) expected.push_back(cs);
        }
        REQUIRE(route(idx, conns, g) == expected);
    }
    for (auto& [s, m] : conns) idx.remove(s, m);
    CHECK(idx.empty());
}
