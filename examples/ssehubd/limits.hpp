// Limits per client: event streams open at once per IP address
// (--max-streams-per-ip) and publishes per second per publisher key
// (--publish-rate, --publish-burst), each answered with 429 and Retry-After.
// Thread safety: both classes are safe from any thread (one mutex each).
#pragma once

#include <ssehub/token_bucket.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace ssehubd {

// Counts the event streams of each IP address. A stream holds a slot from
// before the hub serves it until its serve completes, whatever ends it
// (refusal, client gone, drain): the slot is released when the last copy of
// the handle goes, so the count stays exact under churn.
class ip_stream_limit {
public:
    explicit ip_stream_limit(std::size_t per_ip);  // 0: unlimited (and not counted)

    using slot = std::shared_ptr<const void>;
    // A slot for one more stream from `ip`, or null when it has per_ip open.
    slot try_take(const std::string& ip);
    std::size_t streams(const std::string& ip) const;

private:
    struct table {
        std::mutex mu;
        std::unordered_map<std::string, std::size_t> open;  // only addresses with streams open
    };
    struct held;
    std::size_t per_ip_;
    std::shared_ptr<table> table_;  // shared with the slots: a slot may outlive this object
};

// One token bucket per publisher (named by the daemon: a key's name,
// "jwt:<sub>", "anonymous"), at most max_keys of them: when the table is
// full, buckets that refilled (the same as new ones) are forgotten, and if
// none did, new publishers share one overflow bucket.
class publish_rate_limit {
public:
    using clock = ssehub::token_bucket::clock;
    publish_rate_limit(double rate, std::size_t burst, std::size_t max_keys);  // rate 0: unlimited

    bool enabled() const { return rate_ > 0; }
    ssehub::token_bucket::decision take(const std::string& publisher, clock::time_point now = clock::now());

private:
    double rate_;
    double burst_;
    std::size_t max_keys_;
    std::mutex mu_;
    std::unordered_map<std::string, ssehub::token_bucket> buckets_;
    std::optional<ssehub::token_bucket> overflow_;
};

}  // namespace ssehubd
