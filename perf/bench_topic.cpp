// Topic matching and subscription routing.
#include <benchmark/benchmark.h>

#include <string>

#include "alloc_counter.hpp"
#include "ssehub/topic.hpp"
#include "subscription_index.hpp"

namespace {

void matches_bench(benchmark::State& state, const char* pattern, const char* subject) {
    const std::string p = pattern;
    const std::string s = subject;
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        bool m = ssehub::topic::matches(p, s);
        benchmark::DoNotOptimize(m);
    }
    allocs.report(state);
}

void BM_topic_matches_exact(benchmark::State& state) { matches_bench(state, "orders.eu.acme.42", "orders.eu.acme.42"); }
BENCHMARK(BM_topic_matches_exact);

void BM_topic_matches_star(benchmark::State& state) { matches_bench(state, "orders.*.acme.*", "orders.eu.acme.42"); }
BENCHMARK(BM_topic_matches_star);

void BM_topic_matches_tail(benchmark::State& state) { matches_bench(state, "orders.>", "orders.eu.acme.42"); }
BENCHMARK(BM_topic_matches_tail);

void BM_topic_is_valid_subject(benchmark::State& state) {
    const std::string s = "orders.eu.acme.42";
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        bool v = ssehub::topic::is_valid_subject(s);
        benchmark::DoNotOptimize(v);
    }
    allocs.report(state);
}
BENCHMARK(BM_topic_is_valid_subject);

// 1000 subscriptions: 500 exact "room.<i>.msg", 250 "room.<i>.*", 250 "user.<i>.>".
ssehub::detail::subscription_index make_index_1k() {
    ssehub::detail::subscription_index idx;
    ssehub::detail::conn_slot slot = 0;
    for (int i = 0; i < 500; ++i) idx.add("room." + std::to_string(i) + ".msg", slot++);
    for (int i = 0; i < 250; ++i) idx.add("room." + std::to_string(i) + ".*", slot++);
    for (int i = 0; i < 250; ++i) idx.add("user." + std::to_string(i) + ".>", slot++);
    return idx;
}

void route_bench(benchmark::State& state, const ssehub::detail::subscription_index& idx, const std::string& subject) {
    std::size_t matched = 0;
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        idx.for_each_match(subject, [&matched](ssehub::detail::conn_slot s) {
            matched += s;
            benchmark::DoNotOptimize(matched);
        });
    }
    allocs.report(state);
    std::size_t per_op = 0;
    idx.for_each_match(subject, [&per_op](ssehub::detail::conn_slot) { ++per_op; });
    state.counters["matches"] = static_cast<double>(per_op);
}

void BM_index_1k_exact_hit(benchmark::State& state) {
    static const auto idx = make_index_1k();
    route_bench(state, idx, "room.400.msg");  // exact only
}
BENCHMARK(BM_index_1k_exact_hit);

void BM_index_1k_exact_and_star_hit(benchmark::State& state) {
    static const auto idx = make_index_1k();
    route_bench(state, idx, "room.100.msg");  // exact + "room.100.*"
}
BENCHMARK(BM_index_1k_exact_and_star_hit);

void BM_index_1k_tail_hit(benchmark::State& state) {
    static const auto idx = make_index_1k();
    route_bench(state, idx, "user.100.inbox.new");  // "user.100.>"
}
BENCHMARK(BM_index_1k_tail_hit);

void BM_index_1k_miss(benchmark::State& state) {
    static const auto idx = make_index_1k();
    route_bench(state, idx, "lobby.news");
}
BENCHMARK(BM_index_1k_miss);

// Fan-out: N subscribers on one exact topic; the hot path is the slot vector.
void BM_index_fanout(benchmark::State& state) {
    ssehub::detail::subscription_index idx;
    const auto n = static_cast<ssehub::detail::conn_slot>(state.range(0));
    for (ssehub::detail::conn_slot s = 0; s < n; ++s) idx.add("news.sport", s);
    route_bench(state, idx, "news.sport");
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_index_fanout)->Arg(1000)->Arg(10000);

// Join and leave: 10k subscribers on one topic, all leaving one by one.
void BM_index_10k_join_leave(benchmark::State& state) {
    constexpr ssehub::detail::conn_slot n = 10000;
    for (auto _ : state) {
        ssehub::detail::subscription_index idx;
        for (ssehub::detail::conn_slot s = 0; s < n; ++s) idx.add("news.*", s);
        for (ssehub::detail::conn_slot s = 0; s < n; ++s) idx.remove("news.*", (s * 7919u) % n);
        benchmark::DoNotOptimize(idx.empty());
    }
    state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_index_10k_join_leave);

}  // namespace
