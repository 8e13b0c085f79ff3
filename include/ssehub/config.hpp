// Every bound of the hub, with its default. A plain value type.
// Thread safety: Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include "ssehub/auth.hpp"
#include "ssehub/logger.hpp"
#include "ssehub/replayer.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace ssehub {

namespace http { struct request; }
class connection;

// What on_connect answers: accept, or reject with a status and a generic body.
struct rejection {
    int status = 403;
    std::string body = "forbidden";
};

struct hub_config {
    using ms = std::chrono::milliseconds;

    // Shards (hub(executor, cfg) only): strands that each own a share of the
    // connections, so fan-out uses several threads of a multi-threaded
    // io_context. hub(vector of executors, cfg) makes one per executor.
    std::size_t shards = 1;

    // Delivery
    // Write batching under load: while a shard routes more than
    // batch_above_deliveries deliveries per second and at least two events
    // would arrive per window, it drains publishes at most once per
    // batch_delay, so each connection gets that window's events in one
    // gathered write instead of one write each (a write costs about as much
    // as five queued frames). Instant events then wait up to batch_delay.
    // batch_delay 0 turns it off.
    ms batch_delay{25};
    std::size_t batch_above_deliveries = 200000;
    // Direct writes: set it when each io_context the hub and its connections
    // use is run by exactly one thread (ssehubd: one per --threads). A shard
    // then writes an event straight to the socket of an idle connection on
    // its own io_context (plain TCP; nothing queued, its writer waiting),
    // instead of waking the writer coroutine; what the socket does not take
    // goes through the writer as before. With io_contexts run by several
    // threads it would race: leave it false.
    bool single_thread_contexts = false;
    std::size_t send_queue = 256;     // frames queued per connection before drops
    std::size_t publish_intake = 65536;  // events waiting for the hub strand before publish() fails

    // Batched and coalesced lanes: each connection is flushed at an adaptive
    // interval chosen from the fill level of its queue (fill = queued/send_queue):
    //   fill < throttle_low  → flush_interval × throttle_factor_idle
    //   fill < throttle_mid  → flush_interval × throttle_factor_normal
    //   fill < throttle_high → flush_interval × throttle_factor_busy
    //   otherwise            → flush_interval × throttle_factor_congested
    // clamped to [flush_min, flush_max].
    ms flush_interval{2000};
    ms flush_min{100};
    ms flush_max{10000};
    double throttle_low = 0.10;
    double throttle_mid = 0.50;
    double throttle_high = 0.80;
    double throttle_factor_idle = 0.25;
    double throttle_factor_normal = 1.0;
    double throttle_factor_busy = 2.0;
    double throttle_factor_congested = 4.0;
    std::size_t max_batched = 256;        // batched frames held per connection; more → slow consumer
    std::size_t max_coalesce_keys = 64;   // distinct coalesce keys held per connection; more → slow consumer

    // Slow consumers: a connection that missed events (queue full, batch cap)
    // gets a `resync` event as soon as its queue has room; one that stays
    // behind longer than this is disconnected so its EventSource reconnects.
    ms slow_consumer_timeout{30000};

    // Connection lifetime
    ms heartbeat_interval{30000};     // comment frame after this long without a write
    ms max_lifetime{30 * 60 * 1000};  // close the stream after this long; 0 = unlimited
    double lifetime_jitter = 0.10;    // ±10 %: clients that connected together don't reconnect together
    ms retry{3000};                   // `retry:` sent at connect: client reconnect delay
    ms write_timeout{15000};          // a write that does not complete in this time drops the client
    std::size_t max_connections = 10000;  // over this, new streams get 503

    // Shutdown: every client gets this event (data {"reason":"shutdown"})
    // before its stream ends; empty = none. New streams get 503 with
    // Retry-After = retry (rounded up to seconds) while the hub drains.
    std::string shutdown_event = "server-shutdown";
    // A stream whose credential expires (auth_outcome::expires) gets this
    // event, data {"reason":"expired"}, after what is queued, and ends;
    // `auth_expiry_grace` later than the credential's expiry (clock skew, a
    // refresh in flight).
    std::string auth_expired_event = "auth-expired";
    ms auth_expiry_grace{0};

    // Request head (async_serve reading the request itself)
    std::size_t max_request_head = 8192;  // bytes; over → 431
    ms request_head_timeout{10000};       // whole head must arrive in time; else 408

    // Topics
    std::size_t max_topic_length = 256;     // bytes per topic or pattern
    std::size_t max_topics_per_connection = 64;  // more → 400
    // Without on_connect, the topic is derived from the request path + query
    // (ssehub::url_topic) instead of `?topics=`.
    bool topics_from_url = false;

    // Authentication (jwt_auth, ticket_auth, or your own), run before
    // on_connect. Empty: no authentication.
    authenticator authenticate;

    // Last-Event-ID replay. Empty: no replay. memory_replayer is built in; any
    // type satisfying ssehub::replayer plugs in.
    any_replayer replayer;
    std::size_t max_replay = 1000;     // events sent at most per reconnect (then `resync`)
    std::size_t max_last_event_id = 256;  // longer Last-Event-ID → treated as unknown

    // Presence (docs/presence-and-admin.md).
    std::size_t max_presence_page = 1000;  // entries per async_presence page at most
    // Publish a `join` / `leave` event on "$presence.<topic>" when a connection
    // subscribed to a literal topic registers / leaves (none for wildcard
    // patterns); hub::publish then refuses "$presence." topics.
    bool presence_events = false;

    // Where the library reports what it cannot return to a caller (an
    // exception from a hook, a replayer or a background coroutine). Default:
    // errors only, as "ssehub: ..." lines on stderr.
    logger log;

    // Hooks. on_connect runs on the connection's strand before registration: it
    // may set topics and metadata, or reject. Both see the caller's
    // serve_options::context through connection::context(). Without it, topics come from
    // `?topics=a,b.*`. on_disconnect runs exactly once per registered
    // connection, on the hub strand: it must not block.
    std::function<std::optional<rejection>(const http::request&, connection&)> on_connect;
    std::function<void(const connection&)> on_disconnect;
    // An authentication failure, with the reason (never sent to the client;
    // never contains the token or ticket). On the connection's strand.
    std::function<void(const http::request&, std::string_view reason)> on_auth_failure;
    // Run on the hub strand when set_paused() changes a connection's state.
    std::function<void(const connection&)> on_pause;
    std::function<void(const connection&)> on_resume;
};

}  // namespace ssehub
