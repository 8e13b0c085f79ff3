// Latency histogram for the load generator: log-linear buckets (exact below
// 128, then 64 buckets per power of two: a bucket is at most 1.6% wide), so
// recording is an index computation and one counter increment, no allocation.
// One thread records; any thread may take a snapshot (the counters are relaxed
// atomics). Snapshots subtract, so an interval's distribution is the
// difference of two snapshots.
// Thread safety: record() from one thread at a time; snapshot() from any.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ssehub::bench {

class latency_histogram {
public:
    static constexpr std::size_t linear = 128;
    static constexpr std::size_t per_octave = 64;
    static constexpr std::size_t octaves = 40;  // up to 2^47 units
    static constexpr std::size_t bucket_count = linear + octaves * per_octave;

    static std::size_t index_of(std::uint64_t v) noexcept;
    // Smallest and largest value that fall into bucket i.
    static std::uint64_t lower_bound(std::size_t i) noexcept;
    static std::uint64_t upper_bound(std::size_t i) noexcept;

    void record(std::uint64_t v) noexcept {
        auto& c = counts_[index_of(v)];
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }

    struct snapshot {
        std::vector<std::uint64_t> counts = std::vector<std::uint64_t>(bucket_count, 0);

        std::uint64_t total() const noexcept;
        // The upper bound of the bucket holding the q-quantile (0 < q <= 1):
        // never below the true value, at most 1.6% above it. 0 when empty.
        std::uint64_t quantile(double q) const noexcept;
        // Upper bound of the highest non-empty bucket; 0 when empty.
        std::uint64_t max() const noexcept;
        snapshot& operator+=(const snapshot& o) noexcept;
        snapshot& operator-=(const snapshot& o) noexcept;  // o must be an earlier snapshot of the same counters
    };

    // Adds this histogram's counts to `out`.
    void add_to(snapshot& out) const noexcept;

private:
    std::array<std::atomic<std::uint64_t>, bucket_count> counts_{};
};

}  // namespace ssehub::bench
