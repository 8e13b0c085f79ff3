// ssehub::token_bucket with a clock of the test's own: no sleeps.
#include <catch2/catch.hpp>

#include <ssehub/token_bucket.hpp>

#include <chrono>

using namespace std::chrono_literals;
using ssehub::token_bucket;

namespace {

// The test's clock: a steady time point moved by hand.
struct bucket_clock {
    token_bucket::clock::time_point now{std::chrono::hours(1000)};
    void advance(token_bucket::clock::duration d) { now += d; }
};

}  // namespace

TEST_CASE("token_bucket: a full bucket passes the burst, then refuses with the wait", "[token_bucket]") {
    bucket_clock clk;
    token_bucket b(2.0, 3.0, clk.now);  // 2 a second, 3 at once
    for (int i = 0; i < 3; ++i) CHECK(b.try_take(clk.now).granted);
    const auto refused = b.try_take(clk.now);
    CHECK_FALSE(refused.granted);
    CHECK(refused.wait == 500ms);  // one token flows in 1/rate s
    CHECK(token_bucket::retry_after_seconds(refused.wait) == 1);

    clk.advance(499ms);
    CHECK_FALSE(b.try_take(clk.now).granted);  // a refusal takes nothing
    CHECK(b.try_take(clk.now).wait == 1ms);
    clk.advance(1ms);
    CHECK(b.try_take(clk.now).granted);
    CHECK_FALSE(b.try_take(clk.now).granted);
}

TEST_CASE("token_bucket: refills up to the burst, never beyond", "[token_bucket]") {
    bucket_clock clk;
    token_bucket b(1.0, 2.0, clk.now);
    CHECK(b.full(clk.now));
    CHECK(b.try_take(clk.now).granted);
    CHECK_FALSE(b.full(clk.now));
    clk.advance(1h);  // a long pause refills to the burst only
    CHECK(b.full(clk.now));
    CHECK(b.tokens(clk.now) == Approx(2.0));
    CHECK(b.try_take(clk.now).granted);
    CHECK(b.try_take(clk.now).granted);
    CHECK_FALSE(b.try_take(clk.now).granted);
}

TEST_CASE("token_bucket: a slow rate gives a Retry-After of whole seconds", "[token_bucket]") {
    bucket_clock clk;
    token_bucket b(0.1, 1.0, clk.now);  // one every 10 s
    CHECK(b.try_take(clk.now).granted);
    auto d = b.try_take(clk.now);
    CHECK_FALSE(d.granted);
    CHECK(d.wait == 10s);
    CHECK(token_bucket::retry_after_seconds(d.wait) == 10);
    clk.advance(2500ms);
    d = b.try_take(clk.now);
    CHECK(d.wait == 7500ms);
    CHECK(token_bucket::retry_after_seconds(d.wait) == 8);  // rounded up
}

TEST_CASE("token_bucket: a clock that steps back adds no tokens", "[token_bucket]") {
    bucket_clock clk;
    token_bucket b(1.0, 1.0, clk.now);
    CHECK(b.try_take(clk.now).granted);
    const auto before = clk.now;
    clk.now -= 10s;
    CHECK_FALSE(b.try_take(clk.now).granted);
    clk.now = before + 1s;
    CHECK(b.try_take(clk.now).granted);
}
