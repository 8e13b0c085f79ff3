#include "options.hpp"

#include <ssehub/http_client.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string_view>

#include <unistd.h>

#include <ssehub/topic.hpp>

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

// A flag without a value: sets `field` to `value`.
setter flag(bool options::*field, bool value = true) {
    return [=](options& o, std::string_view) -> std::string {
        o.*field = value;
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

bool valid_key_name(std::string_view n) {
    if (n.empty() || n.size() > 64) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
}

// NAME:KEY:PATTERN,PATTERN[:TENANT,TENANT]; several separated by spaces.
std::string add_scoped_keys(options& o, std::string_view v) {
    std::size_t at = 0;
    while (at < v.size()) {
        const auto end = std::min(v.find_first_of(" \t\n", at), v.size());
        std::string_view item = v.substr(at, end - at);
        at = end + 1;
        if (item.empty()) continue;
        std::vector<std::string_view> parts;
        for (std::size_t from = 0;;) {
            const auto colon = item.find(':', from);
            parts.push_back(item.substr(from, colon == std::string_view::npos ? std::string_view::npos : colon - from));
            if (colon == std::string_view::npos) break;
            from = colon + 1;
        }
        if (parts.size() < 3 || parts.size() > 4) return "expected NAME:KEY:PATTERN[,PATTERN...][:TENANT[,TENANT...]]";
        scoped_publisher_key k;
        if (!valid_key_name(parts[0])) return "a key name is 1..64 of [A-Za-z0-9_.-]";
        k.name = std::string(parts[0]);
        if (parts[1].size() < 8) return "key '" + k.name + "': the key needs at least 8 characters";
        k.key = std::string(parts[1]);
        k.topics = split_commas(parts[2]);
        if (k.topics.empty()) return "key '" + k.name + "': at least one topic pattern";
        for (const auto& t : k.topics)
            if (!ssehub::topic::is_valid_pattern(t, 65536)) return "key '" + k.name + "': not a valid topic pattern";
        if (parts.size() == 4) {
            k.tenants = split_commas(parts[3]);
            if (k.tenants.empty()) return "key '" + k.name + "': an empty tenant list (leave out the last ':')";
        }
        for (const auto& other : o.scoped_keys) {
            if (other.name == k.name) return "key name '" + k.name + "' given twice";
            if (other.key == k.key) return "keys '" + other.name + "' and '" + k.name + "' are the same key";
        }
        o.scoped_keys.push_back(std::move(k));
    }
    return {};
}

std::string set_rate(options& o, std::string_view v) {
    double r = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), r);
    if (ec != std::errc{} || p != v.data() + v.size() || !(r >= 0) || r > 1e9)
        return "expected publishes per second, a number in 0..1e9 (0: unlimited)";
    o.publish_rate = r;
    return {};
}

const std::vector<spec>& table() {
    static const std::vector<spec> t = {
        {"listen", "HOST:PORT", "127.0.0.1:8080", "address to listen on; port 0 picks a free port", set_listen},
        {"tls-cert", "FILE", "", "serve HTTPS: PEM certificate chain (with --tls-key); SIGHUP reloads both",
         text(&options::tls_cert)},
        {"tls-key", "FILE", "", "PEM private key of --tls-cert", text(&options::tls_key)},
        {"tls-handshake-timeout-ms", "MS", "10000", "a TLS handshake not done in this time is dropped",
         ms_in(&options::tls_handshake_timeout, 1)},
        {"h2c", "", "",
         "serve cleartext HTTP/2 with prior knowledge (behind a proxy) instead of HTTP/1.1 (with --tls-cert, "
         "HTTP/2 is chosen by ALPN h2)",
         [](options& o, std::string_view) -> std::string {
             o.h2c = true;
             return {};
         }},
        {"h2-max-streams", "N", "100", "HTTP/2: streams open at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS)",
         size_in(&options::h2_max_streams, 1, 1u << 20)},
        {"h2-max-header-list", "BYTES", "16384", "HTTP/2: request header list size limit (431 beyond)",
         size_in(&options::h2_max_header_list, 256, 1u << 20)},
        {"h2-reset-burst", "N", "1000",
         "HTTP/2 rapid reset: RST_STREAMs a client may send in a burst (then --h2-reset-rate per second); beyond, "
         "GOAWAY and close",
         size_in(&options::h2_reset_burst, 1, 1u << 30)},
        {"h2-reset-rate", "N", "33", "HTTP/2 rapid reset: RST_STREAMs per second refilled after the burst",
         size_in(&options::h2_reset_rate, 1, 1u << 30)},
        {"auth", "MODE", "none",
         "subscriber auth: none, jwt (HS256/RS256/ES256/EdDSA bearer token or ?token=) or tickets (?ticket=)",
         set_auth},
        {"jwt-secret", "SECRET", "", "HS256 key for --auth jwt (prefer the environment variable)",
         text(&options::jwt_secret)},
        {"jwt-public-key", "FILE", "", "PEM public key (RSA, EC P-256 or Ed25519) for --auth jwt: RS256/ES256/EdDSA",
         text(&options::jwt_public_key)},
        {"jwt-jwks", "FILE|URL", "",
         "JWKS for --auth jwt (the token's kid picks the key): a file, read again when it changes, or an http:// "
         "URL, fetched again every --jwt-jwks-refresh-s and on an unknown kid",
         text(&options::jwt_jwks)},
        {"jwt-issuer", "ISS", "", "required `iss` claim (empty: not checked)", text(&options::jwt_issuer)},
        {"jwt-audience", "AUD", "", "required `aud` claim (empty: not checked)", text(&options::jwt_audience)},
        {"jwt-leeway-s", "S", "30", "clock skew allowed on exp, nbf and iat; a stream ends at exp + this",
         size_in(&options::jwt_leeway_s, 0, 3600)},
        {"jwt-jwks-refresh-s", "S", "300", "with --jwt-jwks http://URL: fetch the JWKS again this often",
         size_in(&options::jwt_jwks_refresh_s, 1, 7 * 24 * 3600)},
        {"jwt-jwks-min-refresh-s", "S", "10",
         "with --jwt-jwks http://URL: a token with an unknown kid fetches the JWKS at most once per this",
         size_in(&options::jwt_jwks_min_refresh_s, 1, 7 * 24 * 3600)},
        {"connect-proxy", "URL", "",
         "ask this backend (HTTP POST, JSON) before each stream: it allows with topics and metadata or denies "
         "(docs/connect-proxy.md); replaces --auth",
         text(&options::connect_proxy)},
        {"connect-proxy-timeout-ms", "MS", "2000", "a connect proxy call without an answer by then is a failure",
         ms_in(&options::connect_proxy_timeout, 1, 60000)},
        {"connect-proxy-concurrency", "N", "64", "connect proxy calls in flight at most; more connects get 503 at once",
         size_in(&options::connect_proxy_concurrency, 1, 65536)},
        {"connect-proxy-on-failure", "deny|allow", "deny",
         "backend down, timeout or bad answer: deny (503) or allow (admitted with the requested topics, no metadata)",
         [](options& o, std::string_view v) -> std::string {
             if (v != "deny" && v != "allow") return "expected deny or allow";
             o.connect_proxy_allow_on_failure = v == "allow";
             return {};
         }},
        {"connect-proxy-headers", "A,B", "Authorization", "request headers forwarded to the connect proxy",
         [](options& o, std::string_view v) -> std::string {
             o.connect_proxy_headers = split_commas(v);
             return {};
         }},
        {"connect-proxy-cookies", "A,B", "", "cookies (by name) forwarded to the connect proxy",
         [](options& o, std::string_view v) -> std::string {
             o.connect_proxy_cookies = split_commas(v);
             return {};
         }},
        {"backend-ca-file", "FILE", "",
         "CA certificates (PEM) trusted for https --connect-proxy and --jwt-jwks URLs; empty: the system's",
         text(&options::backend_ca_file)},
        {"publisher-key", "KEY", "",
         "key for publish, tickets and connection details (X-Publisher-Key or Authorization: Bearer); "
         "empty: open (required with --auth tickets)",
         text(&options::publisher_key)},
        {"publisher-key-scoped", "NAME:KEY:PATTERNS[:TENANTS]", "",
         "a publisher key limited to topic patterns (orders.>,users.*) and optionally tenants; repeatable "
         "(several in the variable, separated by spaces); outside its scope: 403",
         add_scoped_keys},
        {"publisher-jwt", "", "",
         "a JWT with a `publish` claim (patterns), signed with the --jwt-* keys, is a scoped publisher key "
         "(its tenant_id claim limits it to that tenant)",
         [](options& o, std::string_view) -> std::string {
             o.publisher_jwt = true;
             return {};
         }},
        {"admin-key", "KEY", "",
         "key for the admin routes and the dashboard at /admin (/stats?connections=1, /presence, /connections); "
         "empty: the --publisher-key",
         text(&options::admin_key)},
        {"admin-feed-interval-ms", "MS", "1000", "how often the /admin dashboard's event stream gets a new snapshot",
         ms_in(&options::admin_feed_interval, 100, 60000)},
        {"admin-top", "N", "20", "topics and tenants listed in each /admin snapshot (the largest)",
         size_in(&options::admin_top, 1, 1000)},
        {"admin-max-streams", "N", "16", "open /admin/events streams at most (503 beyond)",
         size_in(&options::admin_max_streams, 1, 10000)},
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
        {"max-streams-per-ip", "N", "0",
         "event streams open at once from one IP address; more get 429 with Retry-After (0: unlimited)",
         size_in(&options::max_streams_per_ip, 0)},
        {"publish-rate", "R", "0",
         "publishes a second per publisher key (token bucket; anonymous publishers share one); more get 429 with "
         "Retry-After (0: unlimited)",
         set_rate},
        {"publish-burst", "N", "0", "publishes a key may make at once before --publish-rate applies (0: the rate, "
         "at least 1)",
         size_in(&options::publish_burst, 0)},
        {"publish-rate-keys", "N", "10000",
         "rate buckets kept at most (each key, each JWT `sub`); beyond, new publishers share one",
         size_in(&options::publish_rate_keys, 1)},
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
        {"max-batch-events", "N", "1000", "events in one POST /publish JSON array (413 beyond)",
         size_in(&options::max_batch_events, 1, 1000000)},
        {"drain-timeout-ms", "MS", "10000", "on SIGTERM/SIGINT, time clients get to drain before exit",
         ms_in(&options::drain_timeout, 0)},
        {"no-demo", "", "", "do not serve the demo page (GET /) and its browser module (GET /ssehub.js)",
         [](options& o, std::string_view) -> std::string {
             o.demo = false;
             return {};
         }},
        {"presence-events", "", "",
         "publish join/leave events on $presence.<topic> for literal topics (docs/presence-and-admin.md)",
         [](options& o, std::string_view) -> std::string {
             o.presence_events = true;
             return {};
         }},
        {"max-presence-page", "N", "1000", "entries in one GET /presence or GET /connections page at most",
         size_in(&options::max_presence_page, 1, 1000000)},
        {"log-level", "LEVEL", "info", "debug, info, warn or error", set_level},
        {"metrics-topic-series", "N", "100", "per-topic connection series in /metrics at most (0: none)",
         size_in(&options::metrics_topic_series, 0, 100000)},
        {"redis", "URL", "",
         "scale out on Redis (redis://[[user]:pass@]host[:port][/db]): publishes reach every node, replay and "
         "tickets are shared; --replay-size bounds the Stream",
         text(&options::redis_url)},
        {"redis-cluster", "HOST:PORT,...", "",
         "scale out on a Redis Cluster (7.0+, any of its servers; a single Redis 7 works too): sharded pub/sub by "
         "interest, a node receives only its clients' topics (all events while it has a wildcard client); replay "
         "and tickets shared as with --redis",
         text(&options::redis_cluster)},
        {"node-id", "NAME", "",
         "this node's name in logs and metrics, and with --redis its presence entries' (unique per node; default: "
         "host name and pid)",
         text(&options::node_id)},
        {"redis-prefix", "PREFIX", "ssehub",
         "Redis key and channel prefix (PREFIX:events, PREFIX:stream, PREFIX:ticket:*, PREFIX:presence:*, PREFIX:admin)",
         text(&options::redis_prefix)},
        {"redis-wait-replicas", "N", "0",
         "with --redis or --redis-cluster: answer a publish only once N replicas have it (Redis WAIT), so a failover "
         "does not lose it; fewer within --redis-wait-timeout-ms: 503 (the event is on the master and may be delivered)",
         size_in(&options::redis_wait_replicas, 0, 100)},
        {"redis-wait-timeout-ms", "MS", "1000", "with --redis-wait-replicas: how long a publish waits for its replicas",
         ms_in(&options::redis_wait_timeout, 1, 60000)},
        {"redis-ready", "", "", "with --redis: /readyz answers 503 while Redis is unreachable",
         [](options& o, std::string_view) -> std::string {
             o.redis_ready = true;
             return {};
         }},
        {"mercure", "", "",
         "serve the Mercure protocol at /.well-known/mercure beside the native routes (docs/mercure.md)",
         flag(&options::mercure)},
        {"mercure-jwt-key", "SECRET", "", "HS256 key of both publishers' and subscribers' Mercure tokens",
         [](options& o, std::string_view v) -> std::string {
             o.mercure_publisher_key = std::string(v);
             o.mercure_subscriber_key = std::string(v);
             return {};
         }},
        {"mercure-publisher-jwt-key", "SECRET", "", "HS256 key of publishers' Mercure tokens",
         text(&options::mercure_publisher_key)},
        {"mercure-subscriber-jwt-key", "SECRET", "", "HS256 key of subscribers' Mercure tokens",
         text(&options::mercure_subscriber_key)},
        {"mercure-publisher-public-key", "FILE", "", "PEM public key (RS256/ES256/EdDSA) of publishers' Mercure tokens",
         text(&options::mercure_publisher_public_key)},
        {"mercure-subscriber-public-key", "FILE", "", "PEM public key (RS256/ES256/EdDSA) of subscribers' Mercure tokens",
         text(&options::mercure_subscriber_public_key)},
        {"mercure-anonymous", "", "", "Mercure subscribers without a token are allowed (they get public updates only)",
         flag(&options::mercure_anonymous)},
        {"mercure-url", "URL", "https://localhost/.well-known/mercure",
         "the hub's public URL: base of relative topics and URL patterns, and its path is the reserved namespace",
         text(&options::mercure_url)},
        {"mercure-issuer", "ISS", "", "required `iss` of Mercure tokens (empty: not checked)", text(&options::mercure_issuer)},
        {"mercure-audience", "AUD", "", "required `aud` of Mercure tokens (empty: not checked)",
         text(&options::mercure_audience)},
        {"mercure-max-program-size", "N", "2000",
         "a URI template or URL pattern compiling to a larger RE2 program is refused (400 / invalid token)",
         size_in(&options::mercure_max_program_size, 10, 1000000)},
        {"mercure-subscriptions", "", "",
         "the Mercure subscriptions API (/.well-known/mercure/subscriptions..., JSON-LD) and subscription events "
         "(private updates when subscribers come and go)",
         flag(&options::mercure_subscriptions)},
        {"mercure-no-query-token", "", "",
         "refuse tokens in ?authorization= / ?access_token= (the Mercure draft; they end up in access logs)",
         flag(&options::mercure_query_token, false)},
        {"presence-refresh-ms", "MS", "1000",
         "with --redis: how often a node renews the TTL of its presence entries in Redis",
         ms_in(&options::presence_refresh, 10, 3600 * 1000)},
        {"presence-ttl-ms", "MS", "5000",
         "with --redis: a node's presence entries expire this long after its last renewal (a killed node's "
         "vanish then); more than --presence-refresh-ms",
         ms_in(&options::presence_ttl, 20, 24 * 3600 * 1000)},
        {"admin-reply-timeout-ms", "MS", "1000",
         "with --redis: an admin disconnect waits this long for every node's count",
         ms_in(&options::admin_reply_timeout, 1, 60000)},
        {"nats", "URL", "",
         "scale out on NATS (nats://[user:pass@]host[:port], comma-separated for a cluster): publishes reach every "
         "node whose clients subscribe to the topic; replay (without --nats-jetstream) and tickets stay per node",
         text(&options::nats_url)},
        {"nats-prefix", "PREFIX", "ssehub", "NATS subject prefix: topic T travels on subject PREFIX.T (\"\": T itself)",
         text(&options::nats_prefix)},
        {"nats-jetstream", "", "",
         "with --nats: store every event in a JetStream stream (created when missing; the server needs -js): ids are "
         "its sequence on every node and any node replays a Last-Event-ID; --replay-size and --replay-max-age-ms "
         "bound the stream",
         flag(&options::nats_jetstream)},
        {"nats-stream", "NAME", "", "with --nats-jetstream: the stream's name (default: the --nats-prefix)",
         text(&options::nats_stream)},
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

// "" when `url` is http:// or (in a build with TLS) https://, else the problem.
std::string check_backend_url(const std::string& url, std::string_view expected) {
    const auto u = ssehub::http::parse_url(url);
    if (u && (u->scheme == "http" || ssehub::http::tls_supported())) return {};
    return std::string(expected) +
           (ssehub::http::tls_supported() ? "http(s)://host[:port][/path]"
                                          : "http://host[:port][/path] (https needs a build with OpenSSL)");
}

std::string check(const options& o) {
    if (o.tls_cert.empty() != o.tls_key.empty()) return "--tls-cert and --tls-key go together";
#ifndef SSEHUBD_HAS_TLS
    if (!o.tls_cert.empty()) return "--tls-cert: this ssehubd was built without OpenSSL's libssl";
#endif
#ifndef SSEHUBD_HAS_H2
    if (o.h2c) return "--h2c: this ssehubd was built without nghttp2 (ssehub::h2)";
#endif
    if (o.h2c && !o.tls_cert.empty()) return "--h2c is cleartext HTTP/2; with --tls-cert, HTTP/2 is negotiated by ALPN";
    if (o.auth == auth_mode::jwt && o.jwt_secret.empty() && o.jwt_public_key.empty() && o.jwt_jwks.empty())
        return "--auth jwt needs --jwt-secret (or SSEHUBD_JWT_SECRET), --jwt-public-key or --jwt-jwks";
    if (o.auth == auth_mode::tickets && o.publisher_key.empty() && o.scoped_keys.empty())
        return "--auth tickets needs --publisher-key (or --publisher-key-scoped): only the backend may issue tickets";
    if (o.publisher_jwt && o.jwt_secret.empty() && o.jwt_public_key.empty() && o.jwt_jwks.empty())
        return "--publisher-jwt needs --jwt-secret (or SSEHUBD_JWT_SECRET), --jwt-public-key or --jwt-jwks";
    for (const auto& k : o.scoped_keys) {
        if (!o.publisher_key.empty() && k.key == o.publisher_key)
            return "--publisher-key-scoped '" + k.name + "' has the same key as --publisher-key";
        if (!o.admin_key.empty() && k.key == o.admin_key)
            return "--publisher-key-scoped '" + k.name + "' has the same key as --admin-key";
    }
    if (o.presence_ttl <= o.presence_refresh)
        return "--presence-ttl-ms must be more than --presence-refresh-ms (entries would expire between renewals)";
    if (!o.connect_proxy.empty()) {
        if (o.auth != auth_mode::none) return "--connect-proxy replaces --auth: leave --auth none";
        if (auto e = check_backend_url(o.connect_proxy, "--connect-proxy: expected "); !e.empty()) return e;
    }
    if (o.jwt_jwks.find("://") != std::string::npos) {
        if (auto e = check_backend_url(o.jwt_jwks, "--jwt-jwks: expected a file or "); !e.empty()) return e;
    }
    if (!o.backend_ca_file.empty() && ::access(o.backend_ca_file.c_str(), R_OK) != 0)
        return "--backend-ca-file " + o.backend_ca_file + ": cannot read it";
    if (o.flush_min > o.flush_max) return "--flush-min-ms must not exceed --flush-max-ms";
    if (o.mercure) {
#ifndef SSEHUBD_HAS_MERCURE
        return "--mercure: this ssehubd was built without ssehub::mercure (Debian: apt-get install libre2-dev, then "
               "rebuild)";
#endif
        if (!o.redis_cluster.empty())
            return "--mercure with --redis-cluster is not supported yet (--redis is: every node receives every update)";
        if (!o.nats_url.empty())
            return "--mercure with --nats is not supported yet (--redis is: every node routes the updates it receives)";
        if (o.mercure_publisher_key.empty() && o.mercure_publisher_public_key.empty())
            return "--mercure needs --mercure-publisher-jwt-key, --mercure-jwt-key or --mercure-publisher-public-key";
        const auto u = ssehub::http::parse_url(o.mercure_url);
        if (!u) return "--mercure-url: expected an absolute http(s) URL";
        if (o.max_topics < 2) return "--mercure needs --max-topics of at least 2 (two hub topics per selector)";
    }
    if (!o.nats_url.empty() && !o.redis_url.empty()) return "--nats and --redis exclude each other: one engine per node";
    if (o.redis_wait_replicas > 0 && o.redis_url.empty() && o.redis_cluster.empty())
        return "--redis-wait-replicas needs --redis or --redis-cluster";
    if (!o.redis_cluster.empty() && (!o.redis_url.empty() || !o.nats_url.empty()))
        return "--redis-cluster excludes --redis and --nats: one engine per node";
    if (o.nats_jetstream) {
        if (o.nats_url.empty()) return "--nats-jetstream needs --nats";
        if (o.nats_prefix.empty()) return "--nats-jetstream needs a --nats-prefix (the stream cannot take every subject)";
        const std::string& name = o.nats_stream.empty() ? o.nats_prefix : o.nats_stream;
        if (name.find_first_of(".*> \t\r\n/\\") != std::string::npos)
            return "--nats-stream: a stream name has no '.', '*', '>', '/', '\\' or whitespace (set --nats-stream when "
                   "the prefix has them)";
        if (!o.replay_db.empty()) return "--replay-db and --nats-jetstream exclude each other (the replay is the stream)";
    } else if (!o.nats_stream.empty()) {
        return "--nats-stream needs --nats-jetstream";
    }
    if (!o.replay_db.empty()) {
#ifndef SSEHUBD_HAS_SQLITE
        return "--replay-db: this ssehubd was built without SQLite3 (Debian: apt-get install libsqlite3-dev, then "
               "rebuild)";
#endif
        if (o.replay_size == 0) return "--replay-db needs --replay-size > 0";
        if (!o.redis_url.empty() || !o.redis_cluster.empty())
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
        "        GET /readyz, GET / (demo page). SIGTERM or SIGINT drains and exits 0.\n"
        "        With --tls-cert, SIGHUP reloads the certificate and key (open streams stay).\n";
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
