// Where NATS is, how topics become subjects, and how the C client
// reconnects; shared by every ssehub::nats type. A plain value type.
// Thread safety: Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include "ssehub/logger.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ssehub::nats {

struct nats_options {
    using ms = std::chrono::milliseconds;

    // Handed to the C client as is: nats://[user:pass@]host[:port], several
    // separated by commas (a cluster).
    std::string url = "nats://127.0.0.1:4222";
    std::string name;  // the connection name the server shows (CONNECT name)
    // Topic T travels on subject "PREFIX.T" (T itself when empty); events
    // with a group and no topic on "PREFIX_groups" ("_ssehub_groups").
    std::string prefix = "ssehub";

    ms connect_timeout{2000};
    // The C client reconnects on its own (forever), waiting after each
    // round over the servers: reconnect_initial × 2^attempts, at most
    // reconnect_max, ± reconnect_jitter (a fraction). Also at start: a
    // server that is down then is retried the same way.
    ms reconnect_initial{100};
    ms reconnect_max{5000};
    double reconnect_jitter = 0.2;

    // Subscriber: messages handed from the C client's thread to the hub's
    // executor and not yet published there; more are dropped and counted
    // (`overflow`), never waited for.
    std::size_t max_pending = 10000;
    // Subscriber: message ids remembered to drop the copies NATS delivers
    // once per matching subscription (overlapping patterns, events with
    // several topics).
    std::size_t dedupe_window = 10000;
    // The C client's own bound per subscription (messages it buffers before
    // its delivery thread runs); more are dropped (`slow_consumer`).
    int client_max_pending = 65536;

    ssehub::logger log;  // connection errors (default: stderr, errors only)
};

// The subject of a topic or pattern ("orders.*" → "ssehub.orders.*").
std::string subject_of(const nats_options& o, std::string_view topic);
// The subject of events with a group and no topic.
std::string group_subject(const nats_options& o);

// Connection health and traffic, for metrics and tests. Atomics: safe from
// any thread.
struct nats_counters {
    std::atomic<std::uint64_t> connect_attempts{0};  // connections created (each retries on its own)
    std::atomic<std::uint64_t> connect_failures{0};  // connections that could not be created (bad URL/options)
    std::atomic<std::uint64_t> disconnects{0};
    std::atomic<std::uint64_t> reconnects{0};
    std::atomic<std::uint64_t> messages{0};       // subscriber: messages from NATS, every copy
    std::atomic<std::uint64_t> duplicates{0};     // subscriber: copies dropped by id
    std::atomic<std::uint64_t> overflow{0};       // subscriber: dropped, max_pending handoffs were waiting
    std::atomic<std::uint64_t> slow_consumer{0};  // subscriber: dropped by the C client (client_max_pending)
    std::atomic<std::uint64_t> published{0};      // publisher: messages handed to NATS
    std::atomic<std::uint64_t> publish_errors{0}; // publisher: publishes refused (down, C client error)
    std::atomic<std::size_t> subscriptions{0};    // subscriber: subscriptions the server has confirmed
    std::atomic<bool> connected{false};
};

}  // namespace ssehub::nats
