// fan_out with a broker defined only here (a custom type plugged in through
// the pubsub_subscriber concept): mapping, transform (that drops), backoff
// without a busy loop, stop with hub.async_shutdown; and the concepts refuse
// types that miss an operation.
#include "support/harness.hpp"

#include <ssehub/fan_out.hpp>
#include <ssehub/replayer.hpp>
#include <ssehub/ticket_store.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/concurrent_channel.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <memory>

namespace {

using namespace std::chrono_literals;

// ---- concepts: a type missing one operation does not satisfy them ----

struct no_run {
    asio::awaitable<void> async_start(ssehub::pubsub_sink&);
};
struct run_wrong_result {
    asio::awaitable<int> async_run(ssehub::pubsub_sink&);
};
struct run_ok {
    asio::awaitable<void> async_run(ssehub::pubsub_sink&);
};
static_assert(!ssehub::pubsub_subscriber<no_run>);
static_assert(!ssehub::pubsub_subscriber<run_wrong_result>);
static_assert(ssehub::pubsub_subscriber<run_ok>);

struct replayer_without_replay {
    asio::awaitable<void> async_store(ssehub::stored_event);
};
struct replayer_without_store {
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view, const std::vector<std::string>&,
                                                        const ssehub::metadata&, std::size_t);
};
static_assert(!ssehub::replayer<replayer_without_replay>);
static_assert(!ssehub::replayer<replayer_without_store>);

struct tickets_without_take {
    asio::awaitable<std::error_code> async_put(std::string, std::string, std::chrono::milliseconds);
    asio::awaitable<std::optional<std::string>> async_get(std::string_view);
};
struct tickets_without_put {
    asio::awaitable<std::optional<std::string>> async_get(std::string_view);
    asio::awaitable<std::optional<std::string>> async_take(std::string_view);
};
struct tickets_without_get {
    asio::awaitable<std::error_code> async_put(std::string, std::string, std::chrono::milliseconds);
    asio::awaitable<std::optional<std::string>> async_take(std::string_view);
};
static_assert(!ssehub::ticket_store<tickets_without_take>);
static_assert(!ssehub::ticket_store<tickets_without_put>);
static_assert(!ssehub::ticket_store<tickets_without_get>);

// ---- an in-memory broker ----

using channel_t = asio::experimental::concurrent_channel<void(std::error_code, std::string, std::string)>;

struct broker {
    explicit broker(asio::any_io_executor ex) : ch(ex, 1000) {}
    // Any thread.
    void publish(std::string channel, std::string payload) { REQUIRE(ch.try_send(std::error_code{}, channel, payload)); }
    channel_t ch;
    std::atomic<int> runs{0};
};

// The subscriber: one run subscribes and delivers until cancelled.
struct memory_subscriber {
    std::shared_ptr<broker> b;
    asio::awaitable<void> async_run(ssehub::pubsub_sink& sink) {
        b->runs.fetch_add(1);
        sink.subscribed();
        for (;;) {
            auto [ec, channel, payload] = co_await b->ch.async_receive(asio::experimental::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            sink.message(ssehub::pubsub_message{std::move(channel), {}, std::move(payload)});
        }
    }
};
static_assert(ssehub::pubsub_subscriber<memory_subscriber>);

// A subscriber whose runs end at once (a broker that refuses): returns or throws.
struct failing_subscriber {
    std::shared_ptr<std::atomic<int>> runs;
    bool throws = false;
    asio::awaitable<void> async_run(ssehub::pubsub_sink&) {
        runs->fetch_add(1);
        if (throws) throw std::runtime_error("broker down");
        co_return;
    }
};

// Runs that a backoff schedule initial × 2^k, each shortened by the jitter
// at most, allows within `elapsed` (the first run starts at once).
int max_runs(std::chrono::milliseconds initial, double jitter, std::chrono::steady_clock::duration elapsed) {
    double t = 0;
    int n = 1;
    for (int k = 0;; ++k) {
        t += static_cast<double>(initial.count()) * std::pow(2.0, k) * (1.0 - jitter);
        if (std::chrono::milliseconds(static_cast<long long>(t)) > elapsed) return n;
        ++n;
    }
}

}  // namespace

TEST_CASE("fan_out bridges a custom broker into the hub, the transform maps and drops", "[fan_out]") {
    test::server srv;
    auto b = std::make_shared<broker>(srv.context().get_executor());
    ssehub::fan_out_config cfg;
    cfg.event_type = "order";
    cfg.transform = [](const ssehub::pubsub_message& m, ssehub::event ev) -> std::optional<ssehub::event> {
        if (m.payload == "drop") return std::nullopt;
        ev.topics = {"orders." + m.channel};  // channel → topic
        return ev;
    };
    auto bridge = fan_out(srv.hub(), memory_subscriber{b}, cfg);  // unqualified: found through the hub's namespace
    REQUIRE(test::poll_until([&] { return bridge.counters().connected.load() == 1; }));

    test::client c;
    c.get(srv.port(), "/events?topics=orders.*");
    REQUIRE(c.wait_events(1));
    b->publish("eu", "1");
    b->publish("eu", "drop");
    b->publish("us", "2");
    b->publish("eu", "drop");
    b->publish("eu", "3");
    REQUIRE(c.wait_events(4));
    REQUIRE(test::poll_until([&] { return bridge.counters().received.load() == 5; }));
    // Nothing more is in flight: a fourth event would have been published before this point.
    CHECK(bridge.counters().published.load() == 3);
    CHECK(bridge.counters().dropped.load() == 2);
    CHECK(bridge.counters().errors.load() == 0);
    b->publish("end", "end");
    REQUIRE(c.wait_events(5));
    std::vector<std::string> got;
    for (std::size_t i = 1; i < c.events.size(); ++i) got.push_back(c.events[i].type + ":" + c.events[i].data);
    CHECK(got == std::vector<std::string>{"order:1", "order:2", "order:3", "order:end"});
    CHECK(b->runs.load() == 1);
}

TEST_CASE("fan_out without a transform: channel is the topic, type and lane from the config", "[fan_out]") {
    test::server srv;
    auto b = std::make_shared<broker>(srv.context().get_executor());
    ssehub::fan_out_config cfg;
    cfg.topic = "news";
    auto bridge = ssehub::fan_out(srv.hub(), memory_subscriber{b}, cfg);
    REQUIRE(test::poll_until([&] { return bridge.counters().connected.load() == 1; }));
    test::client c;
    c.get(srv.port(), "/events?topics=news");
    REQUIRE(c.wait_events(1));
    b->publish("whatever", "hello");
    REQUIRE(c.wait_events(2));
    CHECK(c.events[1].type == "message");
    CHECK(c.events[1].data == "hello");
    bridge.stop();
    REQUIRE(test::poll_until([&] { return bridge.finished(); }));
}

TEST_CASE("fan_out retries a subscriber that returns at once or throws with backoff, never a busy loop", "[fan_out]") {
    for (const bool throws : {false, true}) {
        test::server srv;
        auto runs = std::make_shared<std::atomic<int>>(0);
        ssehub::fan_out_config cfg;
        cfg.backoff_initial = 20ms;
        cfg.backoff_max = 10s;
        cfg.backoff_jitter = 0.2;
        const auto start = std::chrono::steady_clock::now();
        auto bridge = ssehub::fan_out(srv.hub(), failing_subscriber{runs, throws}, cfg);
        REQUIRE(test::poll_until([&] { return runs->load() >= 5; }, 20s));
        const auto elapsed = std::chrono::steady_clock::now() - start;
        // A busy loop would make thousands of runs; the schedule allows a handful.
        CHECK(runs->load() <= max_runs(cfg.backoff_initial, cfg.backoff_jitter, elapsed));
        CHECK(bridge.counters().reconnects.load() >= 4);
        if (throws) CHECK(bridge.counters().errors.load() >= 4);
        CHECK(bridge.counters().connected.load() == 0);
        bridge.stop();
        REQUIRE(test::poll_until([&] { return bridge.finished(); }));
    }
}

TEST_CASE("fan_out stops with hub.async_shutdown", "[fan_out]") {
    test::server srv;
    auto b = std::make_shared<broker>(srv.context().get_executor());
    auto runs = std::make_shared<std::atomic<int>>(0);
    ssehub::fan_out_config slow;
    slow.backoff_initial = 1h;  // a loop waiting in its backoff is stopped too
    auto waiting = ssehub::fan_out(srv.hub(), failing_subscriber{runs, false}, slow);
    auto bridge = ssehub::fan_out_multi(srv.hub(), std::vector<memory_subscriber>{memory_subscriber{b}, memory_subscriber{b}});
    REQUIRE(test::poll_until([&] { return bridge.counters().connected.load() == 2 && runs->load() == 1; }));
    asio::co_spawn(srv.context(), srv.hub().async_shutdown(std::chrono::seconds(1)), asio::use_future).get();
    REQUIRE(test::poll_until([&] { return bridge.finished() && waiting.finished(); }));
    CHECK(b->runs.load() == 2);
    CHECK(runs->load() == 1);
}
