#include "metrics.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <vector>

namespace ssehubd {
namespace {

constexpr std::array<std::string_view, 20> known_routes{
    "/",           "/ssehub.js",          "/events",          "/events/visibility", "/publish",
    "/publish/invalidate", "/publish/signal", "/publish/progress", "/publish/complete", "/publish/batch",
    "/tickets",    "/metrics",            "/stats",           "/healthz",           "/readyz",
    "/.well-known/mercure", "/admin", "/admin/events", "preflight", "other"};

// The shortest text that reads back as the same double, in %g style (fixed
// notation from 1e-4 up), as Prometheus clients print numbers: a histogram
// bound of 0.00025 s is `le="0.00025"`, never `0.00025000000000000001`.
std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
    return std::string(buf, r.ptr);
}

class writer {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    void sample(std::string_view name, std::string_view labels, std::string_view value) {
        out_ += name;
        if (!labels.empty()) {
            out_ += '{';
            out_ += labels;
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }
    void sample(std::string_view name, std::string_view labels, std::uint64_t v) { sample(name, labels, std::to_string(v)); }
    void one(std::string_view name, std::string_view type, std::string_view help, std::uint64_t v) {
        family(name, type, help);
        sample(name, "", v);
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

std::string label(std::string_view k, std::string_view v) {
    std::string s(k);
    s += "=\"";
    s += escape_label(v);
    s += '"';
    return s;
}

std::vector<std::pair<std::string, std::size_t>> sorted_topics(const ssehub::hub_stats& s, std::size_t max) {
    auto topics = s.topic_connections;
    std::sort(topics.begin(), topics.end(),
              [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    if (topics.size() > max) topics.resize(max);
    return topics;
}

}  // namespace

std::string_view route_label(std::string_view method, std::string_view path) {
    if (method == "OPTIONS") return "preflight";
    for (auto r : known_routes)
        if (r == path) return r;
    return "other";
}

void daemon_counters::count_request(std::string_view route, int status) {
    std::lock_guard lock(mu_);
    ++requests_[{std::string(route), status}];
}

std::map<std::pair<std::string, int>, std::uint64_t> daemon_counters::requests() const {
    std::lock_guard lock(mu_);
    return requests_;
}

std::string escape_label(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string render_prometheus(const ssehub::hub_stats& s, const daemon_counters& d, std::size_t max_topic_series) {
    writer w;
    w.one("ssehub_connections_active", "gauge", "Event streams open now.", s.active_connections);
    w.one("ssehub_connections_paused", "gauge", "Event streams paused now (hidden tabs).", s.paused_connections);
    w.one("ssehub_connections_total", "counter", "Event streams registered since start.", s.connections_total);
    w.one("ssehub_events_published_total", "counter", "Events routed by the hub.", s.events_published);
    w.one("ssehub_events_rejected_total", "counter", "Publishes refused because the hub intake was full.",
          s.events_rejected);
    w.one("ssehub_events_delivered_total", "counter", "Published events written to clients, per receiver.",
          s.events_delivered);
    w.one("ssehub_events_replayed_total", "counter", "Events replayed to reconnecting clients (Last-Event-ID).",
          s.events_replayed);
    w.family("ssehub_events_dropped_total", "counter",
             "Events not delivered to a connection, by reason: queue_full (send queue full), slow_consumer "
             "(batched or coalesced cap exceeded), paused (batched while hidden), expired (TTL passed).");
    w.sample("ssehub_events_dropped_total", label("reason", "queue_full"), s.dropped_queue_full);
    w.sample("ssehub_events_dropped_total", label("reason", "slow_consumer"), s.dropped_lane_cap);
    w.sample("ssehub_events_dropped_total", label("reason", "paused"), s.dropped_paused);
    w.sample("ssehub_events_dropped_total", label("reason", "expired"), s.events_expired);
    w.one("ssehub_slow_consumer_disconnects_total", "counter", "Connections closed for staying behind too long.",
          s.slow_consumer_disconnects);
    w.one("ssehub_queue_frames", "gauge", "Frames queued over all connections now.", s.queued_frames);
    w.family("ssehub_queue_fill_max", "gauge", "Fill of the fullest connection queue now (0 to 1).");
    w.sample("ssehub_queue_fill_max", "", number(s.max_queue_fill));

    w.family("ssehub_publish_to_write_seconds", "histogram", "Time from publish to the write of the event to a client.");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < ssehub::hub_stats::latency_bounds_us.size(); ++i) {
        cumulative += s.latency_counts[i];
        w.sample("ssehub_publish_to_write_seconds_bucket",
                 label("le", number(static_cast<double>(ssehub::hub_stats::latency_bounds_us[i]) / 1e6)), cumulative);
    }
    cumulative += s.latency_counts.back();
    w.sample("ssehub_publish_to_write_seconds_bucket", label("le", "+Inf"), cumulative);
    w.sample("ssehub_publish_to_write_seconds_sum", "", number(static_cast<double>(s.latency_sum_us) / 1e6));
    w.sample("ssehub_publish_to_write_seconds_count", "", cumulative);

    w.family("ssehub_topic_connections", "gauge",
             "Connections per subscribed topic pattern (the " + std::to_string(max_topic_series) +
                 " most subscribed).");
    for (const auto& [topic, n] : sorted_topics(s, max_topic_series))
        w.sample("ssehub_topic_connections", label("topic", topic), n);

    w.family("ssehubd_http_requests_total", "counter", "HTTP requests answered by the daemon, by route and status.");
    for (const auto& [key, n] : d.requests())
        w.sample("ssehubd_http_requests_total", label("route", key.first) + "," + label("code", std::to_string(key.second)),
                 n);
    w.one("ssehubd_auth_failures_total", "counter", "Subscriptions or visibility changes refused by authentication.",
          d.auth_failures.load());
    w.one("ssehubd_tickets_issued_total", "counter", "Tickets issued by POST /tickets.", d.tickets_issued.load());
    w.one("ssehubd_publish_failures_total", "counter", "Publish requests the hub refused (intake full or stopping).",
          d.publish_failures.load());
    w.family("ssehubd_tls_handshake_failures_total", "counter",
             "TLS handshakes that failed (error: not TLS, no shared protocol or cipher, ...) or did not finish within "
             "--tls-handshake-timeout-ms (timeout).");
    w.sample("ssehubd_tls_handshake_failures_total", label("reason", "error"), d.tls_handshake_failures.load());
    w.sample("ssehubd_tls_handshake_failures_total", label("reason", "timeout"), d.tls_handshake_timeouts.load());
    w.one("ssehubd_h2_connections_total", "counter", "HTTP/2 connections (ALPN h2, or --h2c).", d.h2_connections.load());
    w.one("ssehubd_h2_connections_open", "gauge", "HTTP/2 connections open now.", d.h2_connections_open.load());
    w.one("ssehubd_h2_streams_total", "counter",
          "HTTP/2 streams served (each request, event streams included; several per connection).", d.h2_streams.load());
    w.one("ssehubd_publish_rate_limited_total", "counter",
          "Publish requests refused with 429 by the per-key rate limit (--publish-rate).", d.publish_rate_limited.load());
    w.one("ssehubd_publish_scope_refused_total", "counter",
          "Publish and ticket requests refused with 403: outside the topics or tenants of the key.",
          d.publish_scope_refused.load());
    w.one("ssehubd_streams_refused_per_ip_total", "counter",
          "Event streams refused with 429: their IP address had --max-streams-per-ip open.",
          d.streams_refused_per_ip.load());
    w.one("ssehubd_draining", "gauge", "1 while the daemon drains for shutdown.", d.draining.load() ? 1 : 0);
    w.family("ssehubd_start_time_seconds", "gauge", "Start time of the daemon since the Unix epoch.");
    w.sample("ssehubd_start_time_seconds", "", number(d.start_time_seconds));
    return w.take();
}

nlohmann::ordered_json stats_json(const ssehub::hub_stats& s, const daemon_counters& d, bool with_connections) {
    using json = nlohmann::ordered_json;
    json j;
    j["draining"] = d.draining.load();
    j["connections"] = {{"active", s.active_connections},
                        {"paused", s.paused_connections},
                        {"total", s.connections_total},
                        {"slow_consumer_disconnects", s.slow_consumer_disconnects}};
    j["events"] = {{"published", s.events_published}, {"rejected", s.events_rejected},
                   {"delivered", s.events_delivered}, {"replayed", s.events_replayed},
                   {"dropped", {{"queue_full", s.dropped_queue_full},
                                {"slow_consumer", s.dropped_lane_cap},
                                {"paused", s.dropped_paused},
                                {"expired", s.events_expired}}}};
    j["queue"] = {{"frames", s.queued_frames}, {"max_fill", s.max_queue_fill}};
    json buckets = json::array();
    for (std::size_t i = 0; i < ssehub::hub_stats::latency_bounds_us.size(); ++i)
        buckets.push_back({{"le_us", ssehub::hub_stats::latency_bounds_us[i]}, {"count", s.latency_counts[i]}});
    buckets.push_back({{"le_us", nullptr}, {"count", s.latency_counts.back()}});
    j["publish_to_write"] = {{"buckets", std::move(buckets)}, {"sum_us", s.latency_sum_us}};
    json topics = json::array();
    for (const auto& [t, n] : sorted_topics(s, s.topic_connections.size())) topics.push_back({{"topic", t}, {"connections", n}});
    j["topics"] = std::move(topics);
    json tenants = json::array();
    for (const auto& [t, n] : s.tenant_connections) tenants.push_back({{"tenant", t}, {"connections", n}});
    j["tenants"] = std::move(tenants);
    j["replay"] = {{"events", s.replay_events ? json(*s.replay_events) : json(nullptr)}};
    json http = json::array();
    for (const auto& [key, n] : d.requests()) http.push_back({{"route", key.first}, {"code", key.second}, {"count", n}});
    j["http"] = std::move(http);
    j["auth_failures"] = d.auth_failures.load();
    j["tickets_issued"] = d.tickets_issued.load();
    j["tls_handshake_failures"] = {{"error", d.tls_handshake_failures.load()}, {"timeout", d.tls_handshake_timeouts.load()}};
    j["h2"] = {{"connections", d.h2_connections.load()},
               {"connections_open", d.h2_connections_open.load()},
               {"streams", d.h2_streams.load()}};
    j["limits"] = {{"publish_rate_limited", d.publish_rate_limited.load()},
                   {"publish_scope_refused", d.publish_scope_refused.load()},
                   {"streams_refused_per_ip", d.streams_refused_per_ip.load()}};
    if (with_connections) {
        json list = json::array();
        for (const auto& c : s.connections)
            list.push_back(
                {{"id", c.id}, {"topics", c.topics}, {"paused", c.paused}, {"sent", c.sent}, {"dropped", c.dropped}});
        j["connection_details"] = std::move(list);
    }
    return j;
}

std::string render_stats_json(const ssehub::hub_stats& s, const daemon_counters& d, bool with_connections) {
    return stats_json(s, d, with_connections).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace ssehubd
