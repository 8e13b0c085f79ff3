#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "ssehub/topic.hpp"

using namespace std::string_literals;
namespace topic = ssehub::topic;

TEST_CASE("valid patterns and subjects", "[topic]") {
    for (const char* p : {"a", "a.b", "orders.eu.42", "a.*", "a.>", ">", "*", "*.orders", "*.*.c", "a.*.>",
                          "*.>", "Ünïcödé.日本", "emoji.😀", "a-b_c:d/e@f", "0.1.2"}) {
        CAPTURE(p);
        CHECK(topic::is_valid_pattern(p));
    }
    for (const char* s : {"a", "a.b", "orders.eu.42", "Ünïcödé.日本", "emoji.😀", "a-b_c:d/e@f"}) {
        CAPTURE(s);
        CHECK(topic::is_valid_subject(s));
    }
}

TEST_CASE("invalid topics", "[topic]") {
    const std::string invalid_everywhere[] = {
        "", ".", "..", "a..b", ".a", "a.", "a.b.", "a b", " a", "a ", "a\tb", "a\rb", "a\nb", "a\vb", "a\fb",
        "a\0b"s, "a\x01", "a\x1f", "a\x7f", "a.\x7f.b",
        "\xff", "a\x80", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
        "\xe2\x82", "\xf0\x9f\x98",  // truncated sequences
        "a*", "*a", "b>", ">b", "a.b*", "a.**", "a.>>", "a.>.c", ">.a", "a.>.>", "a.*>",
    };
    for (const auto& t : invalid_everywhere) {
        CAPTURE(t);
        CHECK_FALSE(topic::is_valid_pattern(t));
        CHECK_FALSE(topic::is_valid_subject(t));
    }
    // Wildcards are not allowed in subjects (one cannot publish to "a.*").
    for (const char* s : {"a.*", "a.>", ">", "*", "*.orders", "a.*.c"}) {
        CAPTURE(s);
        CHECK(topic::is_valid_pattern(s));
        CHECK_FALSE(topic::is_valid_subject(s));
    }
}

TEST_CASE("topic length limit", "[topic]") {
    const std::string max(256, 'a');
    CHECK(topic::is_valid_subject(max));
    CHECK(topic::is_valid_pattern(max));
    CHECK_FALSE(topic::is_valid_subject(max + "a"));
    CHECK_FALSE(topic::is_valid_pattern(max + "a"));
    CHECK(topic::is_valid_subject("abcd", 4));
    CHECK_FALSE(topic::is_valid_subject("abcde", 4));
    CHECK_FALSE(topic::is_valid_pattern("a.>", 2));
}

TEST_CASE("pattern matching", "[topic]") {
    struct row {
        const char* pattern;
        const char* subject;
        bool match;
    };
    const row table[] = {
        {"a", "a", true},          {"a", "b", false},         {"a", "a.b", false},
        {"a.b", "a", false},       {"a.b", "a.b", true},      {"a.b", "a.c", false},
        {"A.b", "a.b", false},     {"a.B", "a.b", false},     // case-sensitive
        {"a.*", "a.b", true},      {"a.*", "a", false},       {"a.*", "a.b.c", false},
        {"*", "a", true},          {"*", "a.b", false},       {"*.orders", "eu.orders", true},
        {"*.orders", "orders", false}, {"*.orders", "eu.orders.x", false},
        {"*.*", "a.b", true},      {"*.*", "a", false},
        {"a.>", "a.b", true},      {"a.>", "a.b.c.d", true},  {"a.>", "a", false}, {"a.>", "b.c", false},
        {">", "a", true},          {">", "a.b.c", true},
        {"*.>", "a", false},       {"*.>", "a.b", true},      {"a.*.>", "a.b", false}, {"a.*.>", "a.b.c", true},
        {"a.*.c", "a.b.c", true},  {"a.*.c", "a.b.d", false}, {"ab", "a", false}, {"a", "ab", false},
        {"a.b", "a.bc", false},    {"a.bc", "a.b", false},    {"日本.*", "日本.東京", true},
    };
    for (const auto& r : table) {
        CAPTURE(r.pattern, r.subject);
        CHECK(topic::matches(r.pattern, r.subject) == r.match);
    }
}

TEST_CASE("has_wildcard", "[topic]") {
    CHECK(topic::has_wildcard("*"));
    CHECK(topic::has_wildcard(">"));
    CHECK(topic::has_wildcard("a.*.b"));
    CHECK(topic::has_wildcard("a.>"));
    CHECK_FALSE(topic::has_wildcard("a.b"));
    CHECK_FALSE(topic::has_wildcard("a"));
}

namespace {

std::vector<std::string> split(std::string_view s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == '.') {
            out.emplace_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    return out;
}

// Reference: token vectors, straight from the definition.
bool reference_match(const std::vector<std::string>& p, const std::vector<std::string>& s) {
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] == ">" && i + 1 == p.size()) return s.size() > i;
        if (i >= s.size()) return false;
        if (p[i] != "*" && p[i] != s[i]) return false;
    }
    return p.size() == s.size();
}

}  // namespace

TEST_CASE("matches equals a token-vector reference on random topics", "[topic]") {
    std::mt19937 rng(99);
    const std::vector<std::string> ptokens = {"a", "b", "ab", "ba", "*", ">", "é"};
    const std::vector<std::string> stokens = {"a", "b", "ab", "ba", "aa", "é"};
    auto rnd = [&rng](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
    auto join = [&](const std::vector<std::string>& toks, std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) {
            if (i) s += '.';
            s += toks[rnd(toks.size())];
        }
        return s;
    };
    int valid = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        const std::string p = join(ptokens, 1 + rnd(4));
        const std::string s = join(stokens, 1 + rnd(5));
        if (!topic::is_valid_pattern(p)) continue;
        ++valid;
        REQUIRE(topic::is_valid_subject(s));
        CAPTURE(p, s);
        REQUIRE(topic::matches(p, s) == reference_match(split(p), split(s)));
        REQUIRE(topic::has_wildcard(p) == (p.find_first_of("*>") != std::string::npos));
    }
    CHECK(valid > 10000);
}
