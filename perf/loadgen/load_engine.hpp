// The load generator's engine: N subscriber connections spread over worker
// threads (one io_context each), and a pool of publisher connections on the
// first worker that publishes at a target rate or as fast as deliveries keep
// up. The orchestrating thread reads counters and histograms while the
// workers run (they are relaxed atomics with one writer each).
// Thread safety: start_*() and stop() from the orchestrating thread only;
// sample() and the accessors from any thread.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "latency_histogram.hpp"
#include "payload.hpp"

namespace ssehub::bench {

struct engine_config {
    url sub_url;                        // target may hold {topic}
    url pub_url;                        // target may hold {topic}
    std::string pub_body;               // may hold {topic} and {payload}
    std::vector<std::string> pub_headers;  // extra "Name: value" lines on each publish
    std::string topic_prefix = "bench";
    std::size_t subscribers = 1000;
    std::size_t topics = 1;
    std::size_t threads = 1;
    std::size_t publishers = 4;           // publisher connections
    std::size_t payload_bytes = 64;       // size of the event data
    std::size_t connect_concurrency = 256;  // connection attempts in flight per worker
    std::size_t source_addrs = 0;         // >0: bind subscribers to 127.0.0.2 .. 127.0.0.(1+N)
};

// Monotonic counters, summed over workers. Differences of two samples give an
// interval's figures.
struct engine_sample {
    std::uint64_t connected = 0;       // streams that got a 200 head
    std::uint64_t failed = 0;          // connect errors, non-200 answers, bad heads or bodies
    std::uint64_t disconnects = 0;     // streams that ended while the run went on
    std::uint64_t delivered = 0;       // events with a valid payload received
    std::uint64_t other_events = 0;    // events without our payload (connected, resync, ...)
    std::uint64_t reordered = 0;       // events whose sequence number was not the next expected one
    std::uint64_t seq_gaps = 0;        // sequence numbers skipped when an event arrived (a later one may fill them)
    std::uint64_t bytes = 0;           // stream bytes read
    std::uint64_t published = 0;       // publish requests sent
    std::uint64_t accepted = 0;        // publishes answered 2xx
    std::uint64_t rejected = 0;        // answered otherwise
    std::uint64_t publish_errors = 0;  // publisher connection failures
    std::uint64_t expected = 0;        // deliveries owed: sum over accepted publishes of the topic's subscribers
    latency_histogram::snapshot latency_us;
};

class load_engine {
public:
    explicit load_engine(engine_config cfg);
    ~load_engine();
    load_engine(const load_engine&) = delete;
    load_engine& operator=(const load_engine&) = delete;

    // Resolves the URLs and starts the worker threads. Throws on a bad host.
    void start();
    // Starts connecting every subscriber (progress in sample()).
    void connect_all();
    // Starts publishing: `rate` events/s (0: as fast as the subscribers keep
    // up, with at most `window` events undelivered) for `duration`.
    void start_publishing(double rate, std::chrono::milliseconds duration, std::size_t window);
    // True while publishing is scheduled or a publish is in flight.
    bool publishing() const noexcept { return publishing_.load(std::memory_order_acquire); }
    // Closes everything and joins the workers.
    void stop();

    engine_sample sample() const;
    // Events lost so far: per subscriber, accepted publishes on its topic minus
    // events received, both counted since `since` (a per_subscriber_counts()).
    struct counts {
        std::vector<std::uint64_t> received;  // per subscriber
        std::vector<std::uint64_t> accepted;  // per topic
    };
    counts per_subscriber_counts() const;
    static std::uint64_t lost_between(const counts& before, const counts& after, const std::vector<std::uint32_t>& topic_of);
    const std::vector<std::uint32_t>& topic_of() const noexcept { return topic_of_; }

    const engine_config& config() const noexcept { return cfg_; }

private:
    struct worker;
    struct subscriber;
    struct publisher_pool;

    engine_config cfg_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::unique_ptr<publisher_pool> pool_;
    std::vector<std::uint32_t> topic_of_;           // subscriber → topic
    std::vector<std::uint64_t> subs_per_topic_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> accepted_per_topic_;
    std::atomic<bool> publishing_{false};
    asio::ip::tcp::endpoint sub_ep_;
    asio::ip::tcp::endpoint pub_ep_;
    bool started_ = false;
};

}  // namespace ssehub::bench
