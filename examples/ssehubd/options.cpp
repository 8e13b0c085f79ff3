#include "options.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string_view>

namespace ssehubd {
namespace {

using setter = std::function<std::string(options&, std::string_view)>;  // "" on success, else the problem

struct spec {
    std::string_view flag;     // without the leading "--"
    std::string_view metavar;  // empty: a switch without a value
    std::string_view deflt;    // shown in --help
    std::string_view help;
    setter set;
};

std::optional<std::uint64_t> parse_uint(std::string_view s) {
    std::uint64_t v = 0;
    if (s.empty()) return std::nullopt;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

setter size_in(std::size_t options::*field, std::uint64_t lo, std::uint64_t hi = std::numeric_limits<std::uint32_t>::max()) {
    return [=](options& o, std::string_view v) -> std::string {
        const auto n = parse_uint(v);
        if (!n || *n < lo || *n > hi)
            return "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
        o.*field = static_cast<std::size_t>(*n);
        return {};
    };
}

setter ms_in(options::ms options::*field, std::uint64_t lo, std::uint64_t hi = 7ull * 24 * 3600 * 1000) {
    return [=](options& o, std::string_view v) -> std::string {
        const auto n = parse_uint(v);
        if (!n || *n < lo || *n > hi)
            return "expected milliseconds in " + std::to_string(lo) + ".." + std::to_string(hi);
        o.*field = options::ms(static_cast<options::ms::rep>(*n));
        return {};
    };
}

setter text(std::string options::*field) {
    return [=](options& o, std::string_view v) -> std::string {
        o.*field = std::string(v);
        return {};
    };
}

std::vector<std::string> split_commas(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        auto item = s.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

std::string set_listen(options& o, std::string_view v) {
    // HOST:PORT, [IPv6]:PORT, or :PORT (host kept).
    const auto colon = v.rfind(':');
    if (colon == std::string_view::npos) return "expected HOST:PORT";
    std::string_view host = v.substr(0, colon);
    const auto port = parse_uint(v.substr(colon + 1));
    if (!port || *port > 65535) return "expected a port in 0..65535";
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (!host.empty()) o.host = std::string(host);
    o.port = static_cast<unsigned short>(*port);
    return {};
}

std::string set_auth(options& o, std::string_view v) {
    if (v == "none") o.auth = auth_mode::none;
    else if (v == "jwt") o.auth = auth_mode::jwt;
    else if (v == "tickets") o.auth = auth_mode::tickets;
    else return "expected none, jwt or tickets";
    return {};
}

std::string set_level(options& o, std::string_view v) {
    if (v == "debug") o.level = log_level::debug;
    else if (v == "info") o.level = log_level::info;
    else if (v == "warn") o.level = log_level::warn;
    else if (v == "error") o.level = log_level::error;
    else return "expected debug, info, warn or error";
    return {};
}

std::string set_origins(options& o, std::string_view v) {
    o.cors_origins = split_commas(v);
    for (const auto& origin : o.cors_origins) {
        if (origin == "*") continue;
        // scheme://host[:port], nothing else: the browser sends exactly that.
        const auto sep = origin.find("://");
        if (sep == std::string::npos || sep == 0 || origin.find('/', sep + 3) != std::string::npos ||
            sep + 3 == origin.size())
            return "expected origins like https://app.example.com (scheme://host[:port]) or *";
    }
    return {};
}

const std::vector<spec>& table() {
    static const std::vector<spec> t = {
        {"listen", "HOST:PORT", "127.0.0.1:8080", "address to listen on; port 0 picks a free port", set_listen},
        {"auth", "MODE", "none",
         "subscriber auth: none, jwt (HS256/RS256/ES256/EdDSA bearer token or ?token=) or tickets (?ticket=)",
         set_auth},
        {"jwt-secret", "SECRET", "", "HS256 key for --auth jwt (prefer the environment variable)",
         text(&options::jwt_secret)},
        {"jwt-public-key", "FILE", "", "PEM public key (RSA, EC P-256 or Ed25519) for --auth jwt: RS256/ES256/EdDSA",
         text(&options::jwt_public_key)},
        {"jwt-jwks", "FILE", "",
         "JWKS file for --auth jwt (the token's kid picks the key); read again when it changes",
         text(&options::jwt_jwks)},
        {"jwt-issuer", "ISS", "", "required `iss` claim (empty: not checked)", text(&options::jwt_issuer)},
        {"jwt-audience", "AUD", "", "required `aud` claim (empty: not checked)", text(&options::jwt_audience)},
        {"jwt-leeway-s", "S", "30", "clock skew allowed on exp, nbf and iat; a stream ends at exp + this",
         size_in(&options::jwt_leeway_s, 0, 3600)},
        {"publisher-key", "KEY", "",
         "key for publish, tickets and connection details (X-Publisher-Key or Authorization: Bearer); "
         "empty: open (required with --auth tickets)",
         text(&options::publisher_key)},
        {"ticket-ttl-ms", "MS", "30000", "lifetime of a ticket from POST /tickets", ms_in(&options::ticket_ttl, 1)},
        {"max-tickets", "N", "100000", "live tickets held at most", size_in(&options::max_tickets, 1)},
        {"cors-origins", "A,B", "", "origins allowed by CORS (credentials included), or * for any", set_origins},
        {"send-queue", "N", "256", "frames queued per connection before it drops events",
         size_in(&options::send_queue, 1, 1u << 20)},
        {"publish-intake", "N", "65536", "events waiting for the hub before publishes are refused (503)",
         size_in(&options::publish_intake, 1, 1u << 24)},
        {"batch-delay-ms", "MS", "25",
         "under load, a hub shard drains publishes at most this often, so each client gets them in one write (0: off)",
         ms_in(&options::batch_delay, 0)},
        {"batch-above", "N", "200000", "deliveries per second per shard above which write batching starts",
         size_in(&options::batch_above_deliveries, 0)},
        {"flush-ms", "MS", "2000", "base flush interval of the batched and coalesced lanes", ms_in(&options::flush, 1)},
        {"flush-min-ms", "MS", "100", "shortest adaptive flush interval", ms_in(&options::flush_min, 1)},
        {"flush-max-ms", "MS", "10000", "longest adaptive flush interval", ms_in(&options::flush_max, 1)},
        {"max-batched", "N", "256", "batched frames held per connection", size_in(&options::max_batched, 1)},
        {"max-coalesce-keys", "N", "64", "coalesce keys held per connection", size_in(&options::max_coalesce_keys, 1)},
        {"slow-consumer-ms", "MS", "30000", "a connection behind this long is disconnected",
         ms_in(&options::slow_consumer_timeout, 1)},
        {"heartbeat-ms", "MS", "30000", "heartbeat comment after this long without a write",
         ms_in(&options::heartbeat, 1)},
        {"max-lifetime-ms", "MS", "1800000", "streams end after this (0: unlimited)", ms_in(&options::max_lifetime, 0)},
        {"auth-expiry-grace-ms", "MS", "0",
         "a stream whose token expires (JWT exp) gets `auth-expired` and ends this long after the expiry",
         ms_in(&options::auth_expiry_grace, 0)},
        {"retry-ms", "MS", "3000", "`retry:` sent to clients at connect", ms_in(&options::retry, 0)},
        {"write-timeout-ms", "MS", "15000", "a write stuck this long drops the client",
         ms_in(&options::write_timeout, 1)},
        {"max-connections", "N", "10000", "event streams at most; more get 503",
         size_in(&options::max_connections, 1)},
        {"max-head", "BYTES", "8192", "request head size limit (431 beyond)", size_in(&options::max_head, 256, 1u << 20)},
        {"head-timeout-ms", "MS", "10000", "time allowed for a request head and body (408 beyond)",
         ms_in(&options::head_timeout, 1)},
        {"keepalive-timeout-ms", "MS", "5000", "idle time allowed between requests on one HTTP/1.1 connection",
         ms_in(&options::keepalive_timeout, 1)},
        {"keepalive-requests", "N", "1000", "requests served on one connection before it is closed (1: no keep-alive)",
         size_in(&options::keepalive_requests, 1)},
        {"max-topic-length", "BYTES", "256", "bytes per topic or pattern", size_in(&options::max_topic_length, 1, 65536)},
        {"max-topics", "N", "64", "topics per subscription", size_in(&options::max_topics, 1, 65536)},
        {"replay-size", "N", "1000", "events kept for Last-Event-ID replay (0: no replay)",
         size_in(&options::replay_size, 0)},
        {"replay-max-age-ms", "MS", "300000", "replayable events older than this are dropped (0: no age limit)",
         ms_in(&options::replay_max_age, 0)},
        {"max-replay", "N", "1000", "events replayed to one reconnecting client", size_in(&options::max_replay, 1)},
        {"replay-db", "PATH", "",
         "keep the replay in this SQLite file (WAL) instead of memory, so it survives a restart; bounded by "
         "--replay-size and --replay-max-age-ms",
         text(&options::replay_db)},
        {"threads", "N", "1",
         "event loops, one thread and one hub shard each: connections are spread over them round-robin",
         size_in(&options::threads, 1, 256)},
        {"max-body", "BYTES", "65536", "request body size limit (413 beyond)", size_in(&options::max_body, 1, 64u << 20)},
        {"drain-timeout-ms", "MS", "10000", "on SIGTERM/SIGINT, time clients get to drain before exit",
         ms_in(&options::drain_timeout, 0)},
        {"no-demo", "", "", "do not serve the demo page on GET /",
         [](options& o, std::string_view) -> std::string {
             o.demo = false;
             return {};
         }},
        {"log-level", "LEVEL", "info", "debug, info, warn or error", set_level},
        {"metrics-topic-series", "N", "100", "per-topic connection series in /metrics at most (0: none)",
         size_in(&options::metrics_topic_series, 0, 100000)},
        {"redis", "URL", "",
         "scale out on Redis (redis://[[user]:pass@]host[:port][/db]): publishes reach every node, replay and "
         "tickets are shared; --replay-size bounds the Stream",
         text(&options::redis_url)},
        {"node-id", "NAME", "", "this node's name in logs and metrics (default: host name and pid)",
         text(&options::node_id)},
        {"redis-prefix", "PREFIX", "ssehub", "Redis key and channel prefix (PREFIX:events, PREFIX:stream, PREFIX:ticket:*)",
         text(&options::redis_prefix)},
        {"redis-ready", "", "", "with --redis: /readyz answers 503 while Redis is unreachable",
         [](options& o, std::string_view) -> std::string {
             o.redis_ready = true;
             return {};
         }},
        {"nats", "URL", "",
         "scale out on NATS (nats://[user:pass@]host[:port], comma-separated for a cluster): publishes reach every "
         "node whose clients subscribe to the topic; replay and tickets stay per node",
         text(&options::nats_url)},
        {"nats-prefix", "PREFIX", "ssehub", "NATS subject prefix: topic T travels on subject PREFIX.T (\"\": T itself)",
         text(&options::nats_prefix)},
    };
    return t;
}

std::string env_name(std::string_view flag) {
    std::string out = "SSEHUBD_";
    for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::optional<bool> parse_bool(std::string_view v) {
    if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
    if (v == "0" || v == "false" || v == "no" || v == "off" || v.empty()) return false;
    return std::nullopt;
}

std::string check(const options& o) {
    if (o.auth == auth_mode::jwt && o.jwt_secret.empty() && o.jwt_public_key.empty() && o.jwt_jwks.empty())
        return "--auth jwt needs --jwt-secret (or SSEHUBD_JWT_SECRET), --jwt-public-key or --jwt-jwks";
    if (o.auth == auth_mode::tickets && o.publisher_key.empty())
        return "--auth tickets needs --publisher-key: only the backend may issue tickets";
    if (o.flush_min > o.flush_max) return "--flush-min-ms must not exceed --flush-max-ms";
    if (!o.nats_url.empty() && !o.redis_url.empty()) return "--nats and --redis exclude each other: one engine per node";
    if (!o.replay_db.empty()) {
#ifndef SSEHUBD_HAS_SQLITE
        return "--replay-db: this ssehubd was built without SQLite3 (Debian: apt-get install libsqlite3-dev, then "
               "rebuild)";
#endif
        if (o.replay_size == 0) return "--replay-db needs --replay-size > 0";
        if (!o.redis_url.empty())
            return "--replay-db and --redis exclude each other (with --redis the replay is the Redis Stream)";
    }
    return {};
}

}  // namespace

std::string_view to_string(auth_mode m) {
    switch (m) {
    case auth_mode::none: return "none";
    case auth_mode::jwt: return "jwt";
    case auth_mode::tickets: return "tickets";
    }
    return "none";
}

std::string_view to_string(log_level l) {
    switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
    }
    return "info";
}

std::string help_text() {
    std::string out =
        "usage: ssehubd [options]\n"
        "\n"
        "A Server-Sent Events hub: browsers subscribe with GET /events?topics=a,b.*;\n"
        "backends publish with POST /publish. Every option can also be set by its\n"
        "environment variable; a flag wins over the variable.\n"
        "\n"
        "options:\n";
    for (const auto& s : table()) {
        std::string left = "  --" + std::string(s.flag);
        if (!s.metavar.empty()) left += " " + std::string(s.metavar);
        out += left;
        out += left.size() < 30 ? std::string(30 - left.size(), ' ') : std::string("\n") + std::string(30, ' ');
        out += s.help;
        if (!s.deflt.empty()) out += " [" + std::string(s.deflt) + "]";
        out += "\n" + std::string(30, ' ') + "env " + env_name(s.flag) + (s.metavar.empty() ? "=1" : "") + "\n";
    }
    out +=
        "  --help                      this text\n"
        "\n"
        "routes: GET /events, POST /publish, POST /publish/{invalidate,signal,progress,complete,batch},\n"
        "        POST /tickets, POST /events/visibility, GET /metrics, GET /stats, GET /healthz,\n"
        "        GET /readyz, GET / (demo page). SIGTERM or SIGINT drains and exits 0.\n";
    return out;
}

parse_outcome parse_options(int argc, const char* const* argv, const char* (*getenv)(const char*)) {
    if (!getenv) getenv = [](const char* n) -> const char* { return std::getenv(n); };
    parse_outcome out;
    options o;
    auto fail = [&](std::string msg) {
        out.opts.reset();
        out.exit_code = 2;
        out.message = "ssehubd: " + std::move(msg) + " (see --help)\n";
        return out;
    };
    for (const auto& s : table()) {
        const std::string name = env_name(s.flag);
        const char* v = getenv(name.c_str());
        if (!v) continue;
        if (s.metavar.empty()) {
            const auto b = parse_bool(v);
            if (!b) return fail(name + ": expected 1 or 0");
            if (*b) s.set(o, "");
            continue;
        }
        if (auto err = s.set(o, v); !err.empty()) return fail(name + ": " + err);
    }
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h") {
            out.exit_code = 0;
            out.message = help_text();
            return out;
        }
        if (!a.starts_with("--")) return fail("unexpected argument '" + std::string(a) + "'");
        a.remove_prefix(2);
        std::optional<std::string_view> value;
        if (const auto eq = a.find('='); eq != std::string_view::npos) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
        }
        const auto it = std::find_if(table().begin(), table().end(), [&](const spec& s) { return s.flag == a; });
        if (it == table().end()) return fail("unknown option --" + std::string(a));
        if (it->metavar.empty()) {
            if (value) return fail("--" + std::string(a) + " takes no value");
            it->set(o, "");
            continue;
        }
        if (!value) {
            if (i + 1 >= argc) return fail("--" + std::string(a) + " needs a value");
            value = argv[++i];
        }
        if (auto err = it->set(o, *value); !err.empty()) return fail("--" + std::string(a) + ": " + err);
    }
    if (auto err = check(o); !err.empty()) return fail(err);
    out.opts = std::move(o);
    return out;
}

}  // namespace ssehubd
