// Sans-io tests of the lanes: coalescing, batching, TTL at flush, and the
// adaptive flush interval (a mock clock: time points are passed in).
#include "lanes.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using ssehub::detail::flush_interval_for;
using ssehub::detail::lane_buffer;
using ssehub::detail::lane_clock;

namespace {

ssehub::detail::queued_frame fr(std::string s) { return {std::make_shared<const std::string>(std::move(s)), 0}; }
std::shared_ptr<const std::string> shared_key(std::string s) { return std::make_shared<const std::string>(std::move(s)); }
const auto never_due = lane_clock::time_point::max();

std::vector<std::string> strings(const std::vector<ssehub::detail::queued_frame>& v) {
    std::vector<std::string> out;
    for (auto& f : v) out.push_back(*f.bytes);
    return out;
}

}  // namespace

TEST_CASE("throttle: every tier is reachable, thresholds and clamps", "[lanes]") {
    ssehub::hub_config cfg;  // flush 2 s, min 100 ms, max 10 s
    CHECK(flush_interval_for(0, 100, cfg) == 500ms);    // < 10 %: a quarter
    CHECK(flush_interval_for(9, 100, cfg) == 500ms);
    CHECK(flush_interval_for(10, 100, cfg) == 2000ms);  // 10–50 %: the interval
    CHECK(flush_interval_for(49, 100, cfg) == 2000ms);
    CHECK(flush_interval_for(50, 100, cfg) == 4000ms);  // 50–80 %: twice
    CHECK(flush_interval_for(79, 100, cfg) == 4000ms);
    CHECK(flush_interval_for(80, 100, cfg) == 8000ms);  // over 80 %: four times
    CHECK(flush_interval_for(100, 100, cfg) == 8000ms);
    CHECK(ssehub::detail::fastest_flush_interval(cfg) == 500ms);

    cfg.flush_interval = 200ms;  // a quarter would be 50 ms: clamped to the minimum
    CHECK(flush_interval_for(0, 100, cfg) == 100ms);
    cfg.flush_interval = 4000ms;  // four times would be 16 s: clamped to the maximum
    CHECK(flush_interval_for(90, 100, cfg) == 10000ms);

    cfg.flush_interval = 1000ms;  // thresholds and factors are configuration
    cfg.throttle_low = 0.5;
    cfg.throttle_factor_idle = 0.5;
    CHECK(flush_interval_for(40, 100, cfg) == 500ms);
}

TEST_CASE("coalesced: last writer wins, a key keeps its first position", "[lanes]") {
    lane_buffer b;
    const auto k1 = shared_key("progress:import:1");
    const auto k2 = shared_key("signal:orders");
    REQUIRE(b.add_coalesced(k1, fr("p1"), never_due, 8));
    REQUIRE(b.add_coalesced(k2, fr("s1"), never_due, 8));
    for (int i = 2; i <= 10000; ++i) REQUIRE(b.add_coalesced(k1, fr("p" + std::to_string(i)), never_due, 8));
    REQUIRE(b.add_coalesced(shared_key("signal:orders"), fr("s2"), never_due, 8));  // equal text, other pointer
    CHECK(b.coalesced_size() == 2);
    std::vector<ssehub::detail::queued_frame> out;
    CHECK(b.take(lane_clock::now(), out) == 0);
    CHECK(strings(out) == std::vector<std::string>{"p10000", "s2"});
    CHECK(b.empty());
}

TEST_CASE("batched: publish order, batched before coalesced, caps", "[lanes]") {
    lane_buffer b;
    REQUIRE(b.add_coalesced(shared_key("k"), fr("c"), never_due, 1));
    REQUIRE(b.add_batched(fr("b1"), never_due, 2));
    REQUIRE(b.add_batched(fr("b2"), never_due, 2));
    CHECK_FALSE(b.add_batched(fr("b3"), never_due, 2));               // over the batch cap
    CHECK_FALSE(b.add_coalesced(shared_key("other"), fr("x"), never_due, 1));  // over the key cap
    CHECK(b.add_coalesced(shared_key("k"), fr("c2"), never_due, 1));          // replacing is always fine
    std::vector<ssehub::detail::queued_frame> out;
    b.take(lane_clock::now(), out);
    CHECK(strings(out) == std::vector<std::string>{"b1", "b2", "c2"});
}

TEST_CASE("TTL at flush: expired frames are dropped and counted", "[lanes]") {
    lane_buffer b;
    const auto t0 = lane_clock::now();
    b.add_batched(fr("old"), t0 + 10ms, 8);
    b.add_batched(fr("fresh"), t0 + 1h, 8);
    b.add_coalesced(shared_key("k"), fr("stale"), t0 + 5ms, 8);
    std::vector<ssehub::detail::queued_frame> out;
    CHECK(b.take(t0 + 20ms, out) == 2);
    CHECK(strings(out) == std::vector<std::string>{"fresh"});
}

TEST_CASE("discarding batched frames keeps the coalesced state", "[lanes]") {
    lane_buffer b;
    b.add_batched(fr("b1"), never_due, 8);
    b.add_coalesced(shared_key("k"), fr("latest"), never_due, 8);
    CHECK(b.discard_batched() == 1);
    CHECK_FALSE(b.has_batched());
    std::vector<ssehub::detail::queued_frame> out;
    b.take(lane_clock::now(), out);
    CHECK(strings(out) == std::vector<std::string>{"latest"});
}
