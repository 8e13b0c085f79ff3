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

struct options {
    using ms = std::chrono::milliseconds;

    // Network
    std::string host = "127.0.0.1";
    unsigned short port = 8080;

    // Auth
    auth_mode auth = auth_mode::none;
    std::string jwt_secret;      // HS256 key
    std::string jwt_public_key;  // PEM file: RS256, ES256 or EdDSA public key
    std::string jwt_jwks;        // JWKS file (keys chosen by kid), re-read when it changes
    std::string jwt_issuer;    // empty: not checked
    std::string jwt_audience;  // empty: not checked
    std::size_t jwt_leeway_s = 30;  // clock skew allowed on exp/nbf/iat (a stream ends at exp + this)
    std::string publisher_key; // empty: publish routes are open (default listen is loopback only)
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

    // Replay
    std::size_t replay_size = 1000;  // 0: no replay
    ms replay_max_age{5 * 60 * 1000};
    std::size_t max_replay = 1000;   // events replayed to one reconnecting client
    std::string replay_db;           // --replay-db: replay kept in this SQLite file across restarts; empty: memory

    // Daemon
    std::size_t threads = 1;  // threads running the io_context
    std::size_t max_body = 64 * 1024;
    ms drain_timeout{10000};
    bool demo = true;
    log_level level = log_level::info;
    std::size_t metrics_topic_series = 100;

    // Scale-out on Redis (examples/ssehubd/redis_bridge.hpp); empty URL: off.
    std::string redis_url;              // redis://[[user]:pass@]host[:port][/db]
    std::string node_id;                // names this node in logs and metrics; empty: host name + pid
    std::string redis_prefix = "ssehub";  // keys and channel: PREFIX:events, PREFIX:stream, PREFIX:ticket:*
    bool redis_ready = false;           // /readyz answers 503 while Redis is unreachable

    // Scale-out on NATS (examples/ssehubd/nats_bridge.hpp); empty URL: off.
    std::string nats_url;                 // nats://[user:pass@]host[:port][,...]
    std::string nats_prefix = "ssehub";   // topic T travels on subject PREFIX.T
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
