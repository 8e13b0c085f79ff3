// Hub hot paths without sockets: routing one published event to N
// connections (encode once + one queue push each), coalescing, the throttle
// decision, the drop path of a full queue, and a flush of 1,000 connections.
// The hub's strand-only functions are called directly from the benchmark
// thread (no other thread touches this hub).
#include "alloc_counter.hpp"

#include "hub/sequencer.hpp"

#include <asio/io_context.hpp>

namespace {

using namespace ssehub::detail;

class null_stream final : public any_stream {
public:
    explicit null_stream(asio::any_io_executor ex) : ex_(std::move(ex)) {}
    asio::any_io_executor get_executor() override { return ex_; }
    asio::awaitable<void> write(std::span<const asio::const_buffer>, std::error_code&) override { co_return; }
    std::size_t try_write(std::span<const asio::const_buffer>, std::error_code&) override { return 0; }
    asio::awaitable<std::size_t> read_some(asio::mutable_buffer, std::error_code&) override { co_return 0; }
    void async_read_some(asio::mutable_buffer, const asio::any_io_executor&, read_callback) override {}
    void shutdown_send() override {}
    void close() override {}

private:
    asio::any_io_executor ex_;
};

struct fixture {
    asio::io_context io;
    std::shared_ptr<shard> hub;
    std::shared_ptr<sequencer> seq;  // not started: prepare() is called directly
    std::vector<std::shared_ptr<connection_impl>> conns;

    fixture(std::size_t n, std::vector<std::string> topics, std::size_t queue, ssehub::hub_config cfg = {}) {
        cfg.send_queue = queue;
        hub = std::make_shared<shard>(io.get_executor(), cfg, std::make_shared<std::atomic<std::size_t>>(0));
        seq = std::make_shared<sequencer>(io.get_executor(), std::move(cfg), std::vector<std::shared_ptr<shard>>{hub});
        for (std::size_t i = 0; i < n; ++i) {
            auto c = std::make_shared<connection_impl>(random_connection_id(), std::make_unique<null_stream>(io.get_executor()),
                                                       io.get_executor(), queue + 1);
            c->set_topics(topics);
            c->slot = static_cast<conn_slot>(hub->slots.size());
            hub->slots.push_back(c);
            for (const auto& t : c->topics()) hub->subscriptions.add(t, c->slot);
            conns.push_back(std::move(c));
        }
    }

    // What the sequencer and a shard do for one publish: TTL, id, encode
    // once, (store), then route to the matching connections.
    void route(intake_item& item) {
        routed_event re;
        const auto now = clock::now();
        if (!seq->prepare(item, re, now)) return;
        seq->store(re, now);
        hub->route(re, now);
    }

    void drain() {
        queued_frame q;
        for (auto& c : conns)
            while (c->queue.try_receive(q)) {}
    }
};

intake_item item_for(std::string topic, ssehub::priority lane = ssehub::priority::instant) {
    intake_item item;
    item.ev.topics = {std::move(topic)};
    item.ev.type = "invalidate";
    item.ev.data = R"({"resource":"orders","action":"created","resource_id":"o_1"})";
    item.ev.lane = lane;
    return item;
}

// Each connection's queue is emptied every `writer_batch` events, as a busy
// writer does (it takes up to 32 frames per gathered write); the emptying is
// not part of the measurement. One round before timing lets the queues reach
// their steady-state storage, so allocs/op counts what publishing costs.
constexpr std::size_t writer_batch = 32;

void publish_fanout(benchmark::State& state, std::string pattern) {
    const auto n = static_cast<std::size_t>(state.range(0));
    fixture f(n, {std::move(pattern)}, 1 << 16);
    for (std::size_t i = 0; i < writer_batch; ++i) {
        auto item = item_for("orders.eu");
        f.route(item);
    }
    f.drain();
    std::size_t since_drain = 0;
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        auto item = item_for("orders.eu");
        f.route(item);
        if (++since_drain == writer_batch) {
            state.PauseTiming();
            f.drain();
            since_drain = 0;
            state.ResumeTiming();
        }
    }
    allocs.report(state);
    state.counters["deliveries/s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_publish_exact(benchmark::State& state) { publish_fanout(state, "orders.eu"); }
void BM_publish_wildcard(benchmark::State& state) { publish_fanout(state, "orders.*"); }
BENCHMARK(BM_publish_exact)->Arg(1)->Arg(1000)->Arg(10000);
BENCHMARK(BM_publish_wildcard)->Arg(1000);

void BM_coalesce_same_key(benchmark::State& state) {
    lane_buffer b;
    const auto key = std::make_shared<const std::string>("progress:import:1");
    const queued_frame q{std::make_shared<const std::string>("data: x\n\n"), 1};
    b.add_coalesced(key, q, lane_clock::time_point::max(), 64);
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) benchmark::DoNotOptimize(b.add_coalesced(key, q, lane_clock::time_point::max(), 64));
    allocs.report(state);
}
BENCHMARK(BM_coalesce_same_key);

void BM_throttle_decision(benchmark::State& state) {
    const ssehub::hub_config cfg;
    std::size_t queued = 0;
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        benchmark::DoNotOptimize(flush_interval_for(queued, 256, cfg));
        queued = (queued + 37) % 257;
    }
    allocs.report(state);
}
BENCHMARK(BM_throttle_decision);

void BM_backpressure_drop(benchmark::State& state) {
    fixture f(1, {"t"}, 4);
    connection_impl& c = *f.conns[0];
    const queued_frame q{std::make_shared<const std::string>("data: x\n\n"), 1};
    while (c.queue.size() < 4) f.hub->push_frame(c, q);
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) f.hub->push_frame(c, q);  // full: counted and dropped
    allocs.report(state);
}
BENCHMARK(BM_backpressure_drop);

void BM_flush_1000_connections(benchmark::State& state) {
    fixture f(1000, {"job"}, 1 << 10);
    ssehub::perf::alloc_counter allocs;
    auto at = clock::now();
    for (auto _ : state) {
        state.PauseTiming();
        f.drain();
        auto item = item_for("job", ssehub::priority::coalesced);
        f.route(item);  // one pending coalesced frame per connection
        at += std::chrono::hours(1);  // later than every connection's next flush
        state.ResumeTiming();
        f.hub->flush_due(at);
    }
    allocs.report(state);
}
BENCHMARK(BM_flush_1000_connections);

}  // namespace
