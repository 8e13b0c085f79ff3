#include "limits.hpp"

#include <algorithm>
#include <cmath>

namespace ssehubd {

struct ip_stream_limit::held {
    held(std::shared_ptr<table> table, std::string address) : t(std::move(table)), ip(std::move(address)) {}
    held(const held&) = delete;
    held& operator=(const held&) = delete;
    std::shared_ptr<table> t;
    std::string ip;
    ~held() {
        std::lock_guard lock(t->mu);
        const auto it = t->open.find(ip);
        if (it != t->open.end() && --it->second == 0) t->open.erase(it);
    }
};

ip_stream_limit::ip_stream_limit(std::size_t per_ip) : per_ip_(per_ip), table_(std::make_shared<table>()) {}

ip_stream_limit::slot ip_stream_limit::try_take(const std::string& ip) {
    if (per_ip_ == 0) {
        // Unlimited: nothing to count, so no allocation per stream (idle
        // memory per connection is a measured figure); one shared handle.
        static const slot unlimited = std::make_shared<const int>(0);
        return unlimited;
    }
    {
        std::lock_guard lock(table_->mu);
        auto& n = table_->open[ip];
        if (n >= per_ip_) return nullptr;  // n > 0 here: the entry existed
        ++n;
    }
    return std::make_shared<const held>(table_, ip);
}

std::size_t ip_stream_limit::streams(const std::string& ip) const {
    std::lock_guard lock(table_->mu);
    const auto it = table_->open.find(ip);
    return it == table_->open.end() ? 0 : it->second;
}

publish_rate_limit::publish_rate_limit(double rate, std::size_t burst, std::size_t max_keys)
    : rate_(rate),
      burst_(burst != 0 ? static_cast<double>(burst) : std::max(1.0, std::ceil(rate))),
      max_keys_(std::max<std::size_t>(1, max_keys)) {}

ssehub::token_bucket::decision publish_rate_limit::take(const std::string& publisher, clock::time_point now) {
    if (rate_ <= 0) return {true, {}};
    std::lock_guard lock(mu_);
    auto it = buckets_.find(publisher);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_keys_)
            std::erase_if(buckets_, [&](const auto& kv) { return kv.second.full(now); });
        if (buckets_.size() >= max_keys_) {
            if (!overflow_) overflow_.emplace(rate_, burst_, now);
            return overflow_->try_take(now);
        }
        it = buckets_.emplace(publisher, ssehub::token_bucket(rate_, burst_, now)).first;
    }
    return it->second.try_take(now);
}

}  // namespace ssehubd
