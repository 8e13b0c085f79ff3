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

// JetStream (nats_options::jetstream.enabled): every event is stored once in
// a stream, and its stream sequence is its id on every node. The publisher
// stores it (an event with one topic on "PREFIX.T", with several on
// "PREFIX_multi", with a group and no topic on "PREFIX_groups") and waits for
// the server's ack (which carries the sequence); the stream republishes each
// stored message, with its sequence in the Nats-Sequence header, on
// "PREFIX_live." + its subject, where nodes subscribe by interest; the
// replayer (nats_jetstream_replayer) reads the stream after any sequence.
struct jetstream_options {
    bool enabled = false;
    std::string stream = "ssehub";  // the stream's name; created when missing (with the limits below)
    // The stream's limits when it is created here (an existing stream keeps
    // its own): messages kept at most, and for how long (0: no limit).
    std::int64_t max_msgs = 100000;
    std::chrono::milliseconds max_age{std::chrono::minutes(5)};
    bool memory_storage = false;  // false: file storage (survives a server restart with -sd)
    // Publisher: how long a publish waits for the server's ack (then fails:
    // the event may still have been stored), and how many publishes may wait
    // for their acks at once (more are refused at once, never waited for).
    std::chrono::milliseconds publish_timeout{5000};
    std::size_t max_inflight = 10000;
};

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

    jetstream_options jetstream;  // off: core NATS (ids made by the publisher, replay per node)
};

// The subject of a topic or pattern ("orders.*" → "ssehub.orders.*").
std::string subject_of(const nats_options& o, std::string_view topic);
// The subject of events with a group and no topic.
std::string group_subject(const nats_options& o);
// JetStream: the subject of events with several topics ("PREFIX_multi"),
// every node subscribes to it as to the group subject.
std::string multi_subject(const nats_options& o);
// JetStream: where the stream republishes a message stored on `subject`
// ("PREFIX_live." + subject); nodes subscribe there.
std::string live_subject(const nats_options& o, std::string_view subject);

// Connection health and traffic, for metrics and tests. Atomics: safe from
// any thread.
struct nats_counters {
    std::atomic<std::uint64_t> connect_attempts{0};  // connections created (each retries on its own)
    std::atomic<std::uint64_t> connect_failures{0};  // connections that could not be created (bad URL/options)
    std::atomic<std::uint64_t> disconnects{0};
    std::atomic<std::uint64_t> reconnects{0};
    std::atomic<std::uint64_t> reconnect_rounds{0};  // rounds over the servers while down (each after a backoff)
    std::atomic<std::uint64_t> messages{0};       // subscriber: messages from NATS, every copy
    std::atomic<std::uint64_t> duplicates{0};     // subscriber: copies dropped by id
    std::atomic<std::uint64_t> overflow{0};       // subscriber: dropped, max_pending handoffs were waiting
    std::atomic<std::uint64_t> slow_consumer{0};  // subscriber: dropped by the C client (client_max_pending)
    std::atomic<std::uint64_t> published{0};      // publisher: messages handed to NATS
    std::atomic<std::uint64_t> publish_errors{0}; // publisher: publishes refused (down, C client error, no ack)
    std::atomic<std::uint64_t> stream_checks{0};  // JetStream: stream looked up or created (each connect)
    std::atomic<std::uint64_t> replays{0};        // replayer: replays read from the stream
    std::atomic<std::uint64_t> replay_errors{0};  // replayer: replays that failed (the client resyncs)
    std::atomic<std::size_t> subscriptions{0};    // subscriber: subscriptions the server has confirmed
    std::atomic<bool> connected{false};
};

}  // namespace ssehub::nats
