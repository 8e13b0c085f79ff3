// Saturated fan-out through the whole hub (intake, routing, connection
// queues, writer coroutines, strands) with 1, 2 or 4 shards, each on its own
// io_context run by its own thread. Streams live in memory: a write completes
// through the stream's io_context at once, so the figure is the library's own
// CPU cost per delivery without the kernel's. Compare the rate per shard
// count on a machine with that many free cores.
#include <ssehub/hub.hpp>
#include <ssehub/wire.hpp>

#include "support/memory_stream.hpp"

#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

void BM_fanout_shards(benchmark::State& state) {
    const auto shards = static_cast<std::size_t>(state.range(0));
    constexpr std::size_t connections = 1000;
    constexpr std::size_t events_per_round = 64;
    std::vector<std::unique_ptr<asio::io_context>> loops;
    std::vector<asio::any_io_executor> executors;
    for (std::size_t i = 0; i < shards; ++i) {
        loops.push_back(std::make_unique<asio::io_context>(1));
        executors.push_back(loops.back()->get_executor());
    }
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& l : loops) guards.push_back(asio::make_work_guard(*l));
    std::vector<std::thread> threads;
    for (auto& l : loops) threads.emplace_back([io = l.get()] { io->run(); });

    ssehub::hub_config cfg;
    cfg.batch_delay = std::chrono::milliseconds(0);  // the raw rate: no deliberate batching
    cfg.send_queue = 4 * events_per_round;
    cfg.heartbeat_interval = std::chrono::hours(1);
    cfg.max_connections = connections;
    test::write_counter out;
    auto h = std::make_unique<ssehub::hub>(executors, cfg);
    for (std::size_t i = 0; i < connections; ++i) {
        auto& loop = *loops[i % shards];
        ssehub::http::request req;
        req.method = "GET";
        req.target = "/events?topics=orders";
        asio::co_spawn(loop, h->async_serve(test::memory_stream(loop, out), std::move(req)), asio::detached);
    }
    while (h->stats(false).active_connections != connections) std::this_thread::yield();

    ssehub::event e;
    e.topics = {"orders"};
    e.type = "invalidate";
    e.data = R"({"resource":"orders","action":"created","resource_id":"o_1"})";
    e.id = "0000000000-000000000001";  // a fixed id: every frame has the same size
    std::string one;
    ssehub::wire::encode(e.id, e.type, e.data, std::nullopt, one);
    const std::uint64_t frame_bytes = one.size();
    h->publish(e);  // warm-up: every connection has written once
    while (h->stats(false).events_delivered != connections) std::this_thread::yield();

    for (auto _ : state) {
        const std::uint64_t want = out.bytes.load() + frame_bytes * connections * events_per_round;
        for (std::size_t i = 0; i < events_per_round; ++i) h->publish(e);
        out.wait_bytes(want);
    }
    state.counters["deliveries/s"] = benchmark::Counter(static_cast<double>(connections * events_per_round),
                                                        benchmark::Counter::kIsIterationInvariantRate);
    auto done = std::make_shared<std::atomic<bool>>(false);
    asio::co_spawn(*loops[0], h->async_shutdown(std::chrono::seconds(2)), [done](std::exception_ptr) { *done = true; });
    while (!*done) std::this_thread::yield();
    guards.clear();
    for (auto& l : loops) l->stop();
    for (auto& t : threads) t.join();
    h.reset();
}
BENCHMARK(BM_fanout_shards)->Arg(1)->Arg(2)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
