// Counts heap allocations: alloc_counter.cpp replaces the global operator new
// of the benchmark executable. Each benchmark reports allocs/op with it:
//
//     ssehub::perf::alloc_counter allocs;
//     for (auto _ : state) { ... }
//     allocs.report(state);
//
// Thread safety: the count is a relaxed atomic, safe from any thread.
#pragma once

#include <cstdint>

#include <benchmark/benchmark.h>

namespace ssehub::perf {

// Allocations made so far by this process (every operator new form).
std::uint64_t allocation_count() noexcept;

class alloc_counter {
public:
    alloc_counter() noexcept : start_(allocation_count()) {}

    // Sets state.counters["allocs/op"]: allocations since construction per iteration.
    void report(benchmark::State& state) const {
        state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(allocation_count() - start_),
                                                         benchmark::Counter::kAvgIterations);
    }

private:
    std::uint64_t start_;
};

}  // namespace ssehub::perf
