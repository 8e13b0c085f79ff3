// ssehubd's configuration: every flag, its SSEHUBD_* environment variable and
// its default, in one table that also prints `--help`.
// Thread safety: a plain value type. Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace ssehubd {

enum class auth_mode { none, jwt, tickets };
enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };

// One --publisher-key-scoped NAME:KEY:PATTERNS[:TENANTS]: a publisher key
// limited to topic patterns (NATS style) and, when tenants are given, to
// events scoped to one of those tenants (group tenant_id).
struct scoped_publisher_key {
    std::string name;                  // in logs, metrics and its rate bucket; never the key
    std::string key;
    std::vector<std::string> topics;   // patterns every published topic must be covered by
    std::vector<std::string> tenants;  // empty: any tenant (or none)
};

struct options {
    using ms = std::chrono::milliseconds;

    // Network
    std::string host = "127.0.0.1";
    unsigned short port = 8080;

    // TLS (examples/ssehubd/tls.hpp): both files, or neither (plain HTTP)
    std::string tls_cert;  // PEM certificate chain, the server's first; reloaded on SIGHUP
    std::string tls_key;   // PEM private key
    ms tls_handshake_timeout{10000};  // a handshake not done in this time is dropped (and counted)

    // HTTP/2 (ssehub::h2): ALPN h2 on the TLS listener; --h2c: cleartext with prior knowledge
    bool h2c = false;
    std::size_t h2_max_streams = 100;            // SETTINGS_MAX_CONCURRENT_STREAMS per connection
    std::size_t h2_max_header_list = 16384;      // bytes; a larger request head gets 431
    std::size_t h2_reset_burst = 1000;           // rapid reset: RST_STREAMs in a burst ...
    std::size_t h2_reset_rate = 33;              // ... refilled per second; beyond: GOAWAY

    // Auth
    auth_mode auth = auth_mode::none;
    std::string jwt_secret;      // HS256 key
    std::string jwt_public_key;  // PEM file: RS256, ES256 or EdDSA public key
    std::string jwt_jwks;        // JWKS file (keys chosen by kid), re-read when it changes
    std::string jwt_issuer;    // empty: not checked
    std::string jwt_audience;  // empty: not checked
    std::size_t jwt_leeway_s = 30;  // clock skew allowed on exp/nbf/iat (a stream ends at exp + this)
    std::string publisher_key; // empty: publish routes are open (default listen is loopback only)
    std::vector<scoped_publisher_key> scoped_keys;  // --publisher-key-scoped (repeatable)
    bool publisher_jwt = false;  // a JWT with a `publish` claim is a scoped publisher key
    std::string admin_key;       // admin routes; empty: the unscoped publisher key is the admin key
    ms admin_feed_interval{1000};      // --admin-feed-interval-ms: a dashboard snapshot this often
    std::size_t admin_top = 20;        // --admin-top: topics and tenants in each snapshot
    std::size_t admin_max_streams = 16;  // --admin-max-streams: /admin/events streams at most
    ms ticket_ttl{30000};
    std::size_t max_tickets = 100000;
    std::vector<std::string> cors_origins;  // exact origins, or "*" for any (echoed, never a literal "*")

    // Hub limits (ssehub::hub_config)
    std::size_t send_queue = 256;
    ms batch_delay{25};                          // write batching under load (0: off)
    std::size_t batch_above_deliveries = 200000;  // deliveries/s per shard that start it
    std::size_t publish_intake = 65536;
    ms flush{2000};
    ms flush_min{100};
    ms flush_max{10000};
    std::size_t max_batched = 256;
    std::size_t max_coalesce_keys = 64;
    ms slow_consumer_timeout{30000};
    ms heartbeat{30000};
    ms max_lifetime{30 * 60 * 1000};
    ms auth_expiry_grace{0};
    ms retry{3000};
    ms write_timeout{15000};
    std::size_t max_connections = 10000;
    std::size_t max_head = 8192;
    ms head_timeout{10000};
    ms keepalive_timeout{5000};            // idle time between requests on a kept-alive connection
    std::size_t keepalive_requests = 1000;  // requests per connection before it is closed (1: no keep-alive)
    std::size_t max_topic_length = 256;
    std::size_t max_topics = 64;

    // Limits per client (429 with Retry-After beyond)
    std::size_t max_streams_per_ip = 0;  // event streams open at once from one IP address (0: unlimited)
    double publish_rate = 0;             // publishes a second per publisher key (0: unlimited)
    std::size_t publish_burst = 0;       // publishes at once per key (0: the rate, at least 1)
    std::size_t publish_rate_keys = 10000;  // rate buckets kept at most (JWT publishers: one per `sub`)

    // Replay
    std::size_t replay_size = 1000;  // 0: no replay
    ms replay_max_age{5 * 60 * 1000};
    std::size_t max_replay = 1000;   // events replayed to one reconnecting client
    std::string replay_db;           // --replay-db: replay kept in this SQLite file across restarts; empty: memory

    // Daemon
    std::size_t threads = 1;  // threads running the io_context
    std::size_t max_body = 64 * 1024;
    std::size_t max_batch_events = 1000;  // events in one POST /publish array
    ms drain_timeout{10000};
    bool demo = true;
    bool presence_events = false;  // --presence-events: join/leave on $presence.<topic>
    std::size_t max_presence_page = 1000;  // --max-presence-page: entries per GET /presence page at most
    log_level level = log_level::info;
    std::size_t metrics_topic_series = 100;

    // Scale-out on Redis (examples/ssehubd/redis_bridge.hpp); empty URL: off.
    std::string redis_url;              // redis://[[user]:pass@]host[:port][/db]
    std::string redis_cluster;          // host:port,...: a Redis Cluster, interest-based routing (instead of --redis)
    std::string node_id;                // names this node in logs and metrics; empty: host name + pid
    std::string redis_prefix = "ssehub";  // keys and channel: PREFIX:events, PREFIX:stream, PREFIX:ticket:*
    bool redis_ready = false;           // /readyz answers 503 while Redis is unreachable
    std::size_t redis_wait_replicas = 0;  // WAIT for this many replicas after each publish (0: no WAIT)
    ms redis_wait_timeout{1000};          // ... at most this long, else 503
    ms presence_refresh{1000};          // --redis: how often a node renews its presence entries' TTL
    ms presence_ttl{5000};              // --redis: a dead node's entries vanish this long after its last renewal
    ms admin_reply_timeout{1000};       // --redis: an admin disconnect waits this long for every node's count

    // Connect proxy (ssehub::connect_proxy_auth); empty URL: off.
    std::string connect_proxy;                    // http(s)://host:port/path, POSTed before each stream
    ms connect_proxy_timeout{2000};               // one call; no answer by then: a failure
    std::size_t connect_proxy_concurrency = 64;   // calls in flight at most; more connects get 503
    bool connect_proxy_allow_on_failure = false;  // --connect-proxy-on-failure allow
    std::vector<std::string> connect_proxy_headers{"Authorization"};  // request headers forwarded
    std::vector<std::string> connect_proxy_cookies;                    // cookies forwarded, by name
    // https --connect-proxy and --jwt-jwks URLs: CAs to trust (PEM); empty: the system's.
    std::string backend_ca_file;

    // --jwt-jwks http://... : fetched, then again every refresh interval, and
    // on a token whose kid is unknown at most once per min-refresh interval.
    std::size_t jwt_jwks_refresh_s = 300;
    std::size_t jwt_jwks_min_refresh_s = 10;

    // Mercure at /.well-known/mercure (examples/ssehubd/mercure.hpp, docs/mercure.md).
    bool mercure = false;
    std::string mercure_publisher_key;          // HS256 secret of publishers' tokens
    std::string mercure_subscriber_key;         // HS256 secret of subscribers' tokens
    std::string mercure_publisher_public_key;   // PEM file: RS256 / ES256 / EdDSA publishers' tokens
    std::string mercure_subscriber_public_key;  // PEM file: the same for subscribers
    bool mercure_anonymous = false;             // subscribers without a token (public updates only)
    std::string mercure_url = "https://localhost/.well-known/mercure";  // base of relative topics and patterns
    std::string mercure_issuer;                 // required `iss` when set
    std::string mercure_audience;               // required `aud` when set
    std::size_t mercure_max_program_size = 2000;  // RE2 program size of one template or URL pattern
    bool mercure_query_token = true;            // tokens in ?authorization= / ?access_token= (subscribers)
    bool mercure_subscriptions = false;         // the subscriptions API and subscription events

    // Scale-out on NATS (examples/ssehubd/nats_bridge.hpp); empty URL: off.
    std::string nats_url;                 // nats://[user:pass@]host[:port][,...]
    std::string nats_prefix = "ssehub";   // topic T travels on subject PREFIX.T
    bool nats_jetstream = false;          // events stored in a JetStream stream: ids = its sequence, shared replay
    std::string nats_stream;              // the stream's name; empty: the prefix
};

struct parse_outcome {
    std::optional<options> opts;  // set when the daemon should run
    int exit_code = 0;            // otherwise: exit with this (0 after --help / --version)
    std::string message;          // for stderr (errors) or stdout (help)
};

// Reads `environ`-style variables first (SSEHUBD_LISTEN=...), then argv
// (`--flag value` or `--flag=value`), so flags win. `getenv` is injected for
// tests; nullptr uses ::getenv.
parse_outcome parse_options(int argc, const char* const* argv, const char* (*getenv)(const char*) = nullptr);

// The `--help` text.
std::string help_text();

std::string_view to_string(auth_mode m);
std::string_view to_string(log_level l);

}  // namespace ssehubd
