#include "ssehub/replay/memory_replayer.hpp"

#include <algorithm>

namespace ssehub {

memory_replayer::memory_replayer(memory_replayer_config config) : cfg_(std::move(config)) {}

std::chrono::steady_clock::time_point memory_replayer::now() const {
    return cfg_.clock ? cfg_.clock() : std::chrono::steady_clock::now();
}

bool memory_replayer::too_old(const stored_event& ev, std::chrono::steady_clock::time_point now) const noexcept {
    return cfg_.max_age.count() > 0 && now - ev.at >= cfg_.max_age;
}

void memory_replayer::evict_front() {
    const stored_event& ev = ring_.front();
    if (!ev.id.empty()) {
        // Only if the index still points here: a later event may reuse the id.
        if (auto it = index_.find(std::string_view(ev.id)); it != index_.end() && it->second == first_seq_) {
            index_.erase(it);
        }
    }
    ring_.pop_front();
    ++first_seq_;
}

void memory_replayer::store(stored_event ev) {
    const auto t = now();
    while (!ring_.empty() && too_old(ring_.front(), t)) evict_front();
    if (cfg_.max_events == 0) return;
    while (ring_.size() >= cfg_.max_events) evict_front();
    const std::uint64_t seq = first_seq_ + ring_.size();
    ring_.push_back(std::move(ev));
    // The key views the id in its final place; a repeated id re-points the entry.
    if (const std::string& id = ring_.back().id; !id.empty()) {
        auto [it, inserted] = index_.try_emplace(id, seq);
        if (!inserted) {
            index_.erase(it);
            index_.emplace(id, seq);
        }
    }
}

replay_result memory_replayer::replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                      const metadata& conn_meta, std::size_t max_events) const {
    replay_result result;
    const auto t = now();
    std::size_t pos = 0;
    if (!cfg_.earliest_id.empty() && last_id == cfg_.earliest_id) {
        result.known = true;  // from the oldest stored event
    } else {
        const auto it = last_id.empty() ? index_.end() : index_.find(last_id);
        if (it == index_.end()) return result;
        pos = static_cast<std::size_t>(it->second - first_seq_);
        if (too_old(ring_[pos], t)) return result;  // evicted in effect; store() drops it later
        result.known = true;
        ++pos;
    }
    result.events.reserve(std::min(max_events, ring_.size() - pos));
    for (; pos < ring_.size(); ++pos) {
        const stored_event& ev = ring_[pos];
        if (too_old(ev, t) || ev.expires <= t || !ev.bytes) continue;
        if (!replay_matches(ev.topics, ev.group, patterns, conn_meta)) continue;
        if (result.events.size() == max_events) {
            result.truncated = true;
            break;
        }
        result.events.push_back(replayed_event{ev.id, ev.bytes});
    }
    return result;
}

asio::awaitable<void> memory_replayer::async_store(stored_event ev) {
    store(std::move(ev));
    co_return;
}

asio::awaitable<replay_result> memory_replayer::async_replay(std::string_view last_id,
                                                             const std::vector<std::string>& patterns,
                                                             const metadata& conn_meta, std::size_t max_events) {
    co_return replay(last_id, patterns, conn_meta, max_events);
}

}  // namespace ssehub
