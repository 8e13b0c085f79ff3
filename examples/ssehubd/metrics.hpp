// /metrics (Prometheus text format 0.0.4) and /stats (the same as JSON),
// rendered from a hub_stats snapshot and the daemon's own counters.
// Families come in a fixed order, each with # HELP and # TYPE before its
// samples; label values are escaped; every label set is bounded (fixed
// routes, status codes, drop reasons, and at most N topics).
// Thread safety: daemon_counters is safe from any thread; the render
// functions are pure.
#pragma once

#include <ssehub/hub.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace ssehubd {

// The routes requests are counted under (a fixed set: labels stay bounded).
std::string_view route_label(std::string_view method, std::string_view path);

class daemon_counters {
public:
    void count_request(std::string_view route, int status);
    std::map<std::pair<std::string, int>, std::uint64_t> requests() const;

    std::atomic<std::uint64_t> auth_failures{0};
    std::atomic<std::uint64_t> tickets_issued{0};
    std::atomic<std::uint64_t> publish_failures{0};  // publishes the hub refused (intake full, stopped)
    std::atomic<std::uint64_t> publish_rate_limited{0};   // 429: --publish-rate
    std::atomic<std::uint64_t> publish_scope_refused{0};  // 403: outside a scoped key's topics or tenants
    std::atomic<std::uint64_t> streams_refused_per_ip{0};  // 429: --max-streams-per-ip
    std::atomic<bool> draining{false};
    std::atomic<std::uint64_t> tls_handshake_failures{0};  // --tls-cert: handshakes that failed
    std::atomic<std::uint64_t> tls_handshake_timeouts{0};  // ... or did not finish in time
    std::atomic<std::uint64_t> h2_connections{0};       // HTTP/2 connections accepted
    std::atomic<std::uint64_t> h2_connections_open{0};  // ... open now
    std::atomic<std::uint64_t> h2_streams{0};           // HTTP/2 requests (streams) served on them
    double start_time_seconds = 0;  // since the epoch

private:
    mutable std::mutex mu_;
    std::map<std::pair<std::string, int>, std::uint64_t> requests_;
};

// Escapes a label value: backslash, double quote and line feed.
std::string escape_label(std::string_view v);

std::string render_prometheus(const ssehub::hub_stats& s, const daemon_counters& d, std::size_t max_topic_series);

// with_connections: add the per-connection list ("connection_details": id,
// topics, paused, sent, dropped); /stats does only for ?connections=1 with the key.
std::string render_stats_json(const ssehub::hub_stats& s, const daemon_counters& d, bool with_connections);
// The same document as JSON (the admin dashboard's snapshot adds to it).
nlohmann::ordered_json stats_json(const ssehub::hub_stats& s, const daemon_counters& d, bool with_connections);

}  // namespace ssehubd
