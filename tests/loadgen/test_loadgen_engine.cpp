// ssehub_bench's engine end to end against the real ssehubd: subscribers
// connect, a paced and a "max" publishing step deliver every event, and the
// counters, loss accounting and latency histogram agree.
#include <catch2/catch.hpp>

#include "daemon/daemon_process.hpp"
#include "load_engine.hpp"

using namespace ssehub::bench;
using daemon_test::daemon_process;
using namespace std::chrono_literals;

namespace {

engine_config config_for(unsigned short port) {
    engine_config cfg;
    cfg.sub_url = *parse_url("http://127.0.0.1:" + std::to_string(port) + "/events?topics={topic}");
    cfg.pub_url = *parse_url("http://127.0.0.1:" + std::to_string(port) + "/publish");
    cfg.pub_body = R"({"topics":["{topic}"],"data":{payload}})";
    cfg.subscribers = 20;
    cfg.topics = 2;
    cfg.threads = 2;
    cfg.publishers = 1;  // one connection: events reach the hub in sequence order
    cfg.source_addrs = 4;
    return cfg;
}

}  // namespace

TEST_CASE("load_engine: every published event is delivered and counted", "[loadgen][daemon]") {
    daemon_process d({"--no-demo", "--log-level=warn"});
    load_engine eng(config_for(d.port()));
    eng.start();
    eng.connect_all();
    REQUIRE(test::poll_until([&] { return eng.sample().connected + eng.sample().failed >= 20; }, 30s));
    REQUIRE(eng.sample().connected == 20);

    const auto before = eng.per_subscriber_counts();
    eng.start_publishing(500, std::chrono::milliseconds(100), 16);
    REQUIRE(test::poll_until([&] {
        const auto s = eng.sample();
        return !eng.publishing() && s.delivered >= s.expected;
    }, 30s));
    const auto s = eng.sample();
    CHECK(s.published > 0);
    CHECK(s.accepted == s.published);
    CHECK(s.rejected == 0);
    CHECK(s.publish_errors == 0);
    CHECK(s.expected == s.accepted * 10);  // 10 subscribers per topic
    CHECK(s.delivered == s.expected);
    CHECK(s.latency_us.total() == s.delivered);
    CHECK(s.reordered == 0);
    CHECK(s.seq_gaps == 0);
    CHECK(s.other_events == 20);  // each stream's "connected" event
    CHECK(s.disconnects == 0);
    const auto after = eng.per_subscriber_counts();
    CHECK(load_engine::lost_between(before, after, eng.topic_of()) == 0);
    CHECK(after.accepted[0] + after.accepted[1] == s.accepted);

    // "max": as fast as deliveries keep up, at most 4 events undelivered.
    const auto s0 = eng.sample();
    eng.start_publishing(0, std::chrono::milliseconds(100), 4);
    REQUIRE(test::poll_until([&] {
        const auto x = eng.sample();
        return !eng.publishing() && x.delivered >= x.expected;
    }, 30s));
    const auto s1 = eng.sample();
    CHECK(s1.accepted > s0.accepted);
    CHECK(s1.delivered - s0.delivered == (s1.accepted - s0.accepted) * 10);
    CHECK(load_engine::lost_between(after, eng.per_subscriber_counts(), eng.topic_of()) == 0);
    eng.stop();
}

TEST_CASE("load_engine: a refused subscription counts as failed, not connected", "[loadgen][daemon]") {
    daemon_process d({"--no-demo", "--log-level=warn", "--max-connections=5"});
    auto cfg = config_for(d.port());
    cfg.subscribers = 8;
    load_engine eng(cfg);
    eng.start();
    eng.connect_all();
    REQUIRE(test::poll_until([&] { return eng.sample().connected + eng.sample().failed >= 8; }, 30s));
    CHECK(eng.sample().connected == 5);
    CHECK(eng.sample().failed == 3);  // 503 beyond --max-connections
    eng.stop();
}

TEST_CASE("load_engine::lost_between: owed minus received per subscriber, never negative", "[loadgen]") {
    load_engine::counts before{{0, 0, 0}, {0, 0}};
    load_engine::counts after{{5, 3, 9}, {5, 4}};
    const std::vector<std::uint32_t> topic_of{0, 0, 1};
    // subscriber 0: 5 of 5; subscriber 1: 3 of 5 (2 lost); subscriber 2: 9 of 4 (late extras, not negative)
    CHECK(load_engine::lost_between(before, after, topic_of) == 2);
}
