// A token bucket: `rate` tokens a second flow into a bucket that holds at
// most `burst`; each request takes one. It starts full, so `burst` requests
// pass at once, then one every 1/rate seconds. Sans-io: the caller passes the
// time (steady clock), so a test drives it with a clock of its own.
// Thread safety: a plain value type. Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <algorithm>
#include <chrono>

namespace ssehub {

class token_bucket {
public:
    using clock = std::chrono::steady_clock;

    struct decision {
        bool granted = false;
        // When refused: how long until a token is there (what Retry-After
        // says, rounded up to whole seconds). Zero when granted.
        clock::duration wait{0};
    };

    // rate > 0 (tokens per second), burst >= 1. Full at `now`.
    token_bucket(double rate, double burst, clock::time_point now) noexcept
        : interval_(std::max(clock::duration(1), std::chrono::duration_cast<clock::duration>(
                                                     std::chrono::duration<double>(1.0 / (rate > 0 ? rate : 1.0))))),
          capacity_(std::chrono::duration_cast<clock::duration>(interval_ * std::max(1.0, burst))),
          full_at_(now) {}

    // Takes one token if there is one; a refusal takes nothing.
    decision try_take(clock::time_point now) noexcept {
        // Kept as the time at which the bucket will be full again (integer
        // time arithmetic, so the decisions are exact): taking a token moves
        // it one interval later; more than `capacity` ahead of now is empty.
        const auto next = std::max(full_at_, now) + interval_;
        if (next - now > capacity_) return {false, next - now - capacity_};
        full_at_ = next;
        return {true, clock::duration::zero()};
    }

    // Whether the bucket is full at `now` (then it is the same as a new one:
    // a table of buckets may forget it).
    bool full(clock::time_point now) const noexcept { return full_at_ <= now; }

    // Tokens in the bucket at `now` (a fraction while one flows in).
    double tokens(clock::time_point now) const noexcept {
        const auto owed = std::max(clock::duration::zero(), full_at_ - now);
        return std::chrono::duration<double>(capacity_ - owed) / std::chrono::duration<double>(interval_);
    }

    // Whole seconds for a Retry-After header: the wait rounded up, at least 1.
    static long retry_after_seconds(clock::duration wait) noexcept {
        const auto s = std::chrono::ceil<std::chrono::seconds>(wait).count();
        return static_cast<long>(std::max<decltype(s)>(1, s));
    }

private:
    clock::duration interval_;    // one token flows in this often
    clock::duration capacity_;    // burst * interval
    clock::time_point full_at_;  // full from then on
};

}  // namespace ssehub
