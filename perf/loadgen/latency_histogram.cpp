#include "latency_histogram.hpp"

#include <bit>
#include <cmath>

namespace ssehub::bench {

std::size_t latency_histogram::index_of(std::uint64_t v) noexcept {
    if (v < linear) return static_cast<std::size_t>(v);
    const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));  // >= 7
    const std::size_t octave = msb - 7;
    if (octave >= octaves) return bucket_count - 1;
    const unsigned shift = msb - 6;  // (v >> shift) is in [64, 127]
    return linear + octave * per_octave + static_cast<std::size_t>((v >> shift) - per_octave);
}

std::uint64_t latency_histogram::lower_bound(std::size_t i) noexcept {
    if (i < linear) return i;
    const std::size_t octave = (i - linear) / per_octave;
    const std::size_t sub = (i - linear) % per_octave;
    const unsigned shift = static_cast<unsigned>(octave) + 1;
    return static_cast<std::uint64_t>(per_octave + sub) << shift;
}

std::uint64_t latency_histogram::upper_bound(std::size_t i) noexcept {
    if (i + 1 >= bucket_count) return lower_bound(i) * 2;  // the last bucket also takes everything beyond
    return lower_bound(i + 1) - 1;
}

void latency_histogram::add_to(snapshot& out) const noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) out.counts[i] += counts_[i].load(std::memory_order_relaxed);
}

std::uint64_t latency_histogram::snapshot::total() const noexcept {
    std::uint64_t n = 0;
    for (auto c : counts) n += c;
    return n;
}

std::uint64_t latency_histogram::snapshot::quantile(double q) const noexcept {
    const std::uint64_t n = total();
    if (n == 0) return 0;
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n)));
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        seen += counts[i];
        if (seen >= rank) return upper_bound(i);
    }
    return upper_bound(counts.size() - 1);
}

std::uint64_t latency_histogram::snapshot::max() const noexcept {
    for (std::size_t i = counts.size(); i-- > 0;)
        if (counts[i] != 0) return upper_bound(i);
    return 0;
}

latency_histogram::snapshot& latency_histogram::snapshot::operator+=(const snapshot& o) noexcept {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
    return *this;
}

latency_histogram::snapshot& latency_histogram::snapshot::operator-=(const snapshot& o) noexcept {
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] -= o.counts[i];
    return *this;
}

}  // namespace ssehub::bench
