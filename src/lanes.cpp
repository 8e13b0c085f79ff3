#include "lanes.hpp"

#include <algorithm>

namespace ssehub::detail {

std::chrono::milliseconds flush_interval_for(std::size_t queued, std::size_t capacity, const hub_config& cfg) noexcept {
    const double fill = capacity == 0 ? 1.0 : static_cast<double>(queued) / static_cast<double>(capacity);
    double factor;
    if (fill < cfg.throttle_low) factor = cfg.throttle_factor_idle;
    else if (fill < cfg.throttle_mid) factor = cfg.throttle_factor_normal;
    else if (fill < cfg.throttle_high) factor = cfg.throttle_factor_busy;
    else factor = cfg.throttle_factor_congested;
    const auto ms = std::chrono::milliseconds(
        static_cast<std::chrono::milliseconds::rep>(static_cast<double>(cfg.flush_interval.count()) * factor));
    return std::clamp(ms, cfg.flush_min, std::max(cfg.flush_min, cfg.flush_max));
}

std::chrono::milliseconds fastest_flush_interval(const hub_config& cfg) noexcept {
    return flush_interval_for(0, 1, cfg);
}

bool lane_buffer::add_batched(queued_frame f, lane_clock::time_point expires, std::size_t cap) {
    if (batched_.size() >= cap) return false;
    batched_.push_back({std::move(f), expires});
    return true;
}

bool lane_buffer::add_coalesced(const std::shared_ptr<const std::string>& key, queued_frame f,
                                lane_clock::time_point expires, std::size_t max_keys) {
    // Connections hold few keys (a progress bar, a signal per topic): a linear
    // scan beats hashing here and allocates nothing on the replace path.
    for (auto& e : coalesced_) {
        if (e.key == key || *e.key == *key) {
            e.q = std::move(f);
            e.expires = expires;
            return true;
        }
    }
    if (coalesced_.size() >= max_keys) return false;
    coalesced_.push_back({key, std::move(f), expires});
    return true;
}

std::size_t lane_buffer::take(lane_clock::time_point now, std::vector<queued_frame>& out) {
    std::size_t expired = 0;
    for (auto& e : batched_) {
        if (now >= e.expires) ++expired;
        else out.push_back(std::move(e.q));
    }
    for (auto& e : coalesced_) {
        if (now >= e.expires) ++expired;
        else out.push_back(std::move(e.q));
    }
    // Keep nothing allocated for an idle connection.
    std::vector<entry>().swap(batched_);
    std::vector<coalesced_entry>().swap(coalesced_);
    return expired;
}

std::size_t lane_buffer::discard_batched() noexcept {
    const std::size_t n = batched_.size();
    std::vector<entry>().swap(batched_);
    return n;
}

}  // namespace ssehub::detail
