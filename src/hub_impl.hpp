// Private: the hub's state and the per-connection state it shares with the
// connection's writer. Everything marked "hub strand" is touched only there.
#pragma once

#include "connection/connection_state.hpp"
#include "group_index.hpp"
#include "lanes.hpp"
#include "subscription_index.hpp"

#include "ssehub/connection.hpp"
#include "ssehub/hub.hpp"
#include "ssehub/serve.hpp"
#include "ssehub/wire.hpp"

#include <ssehub/coro/channel.hpp>

#include <asio/cancellation_signal.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <array>
#include <atomic>
#include <functional>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ssehub::detail {

using clock = std::chrono::steady_clock;

inline constexpr std::size_t latency_buckets = hub_stats::latency_bounds_us.size() + 1;  // + the +Inf bucket

inline std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count();
}

class connection_impl final : public connection {
public:
    connection_impl(std::string id, std::unique_ptr<any_stream> s, asio::any_io_executor conn_strand,
                    std::size_t queue_capacity)
        : connection(std::move(id)), queue(queue_capacity), stream(std::move(s)), strand(std::move(conn_strand)) {}

    std::vector<std::string>& topic_list() noexcept { return topics_; }
    void set_context(serve_context ctx) { context_ = std::make_unique<const serve_context>(std::move(ctx)); }
    // Why the stream ends: the first reason given wins (the hub strand and
    // the connection's strand may both give one, e.g. lifetime vs. EOF).
    void end_with(serve_reason r) noexcept {
        std::uint8_t none = 0;
        end.compare_exchange_strong(none, static_cast<std::uint8_t>(static_cast<int>(r) + 1), std::memory_order_relaxed);
    }
    serve_reason outcome_reason() const noexcept {
        const std::uint8_t e = end.load(std::memory_order_relaxed);
        return e == 0 ? serve_reason::client_left : static_cast<serve_reason>(e - 1);
    }
    void count_sent(std::uint64_t n) noexcept { sent_.fetch_add(n, std::memory_order_relaxed); }
    void count_dropped() noexcept { dropped_.fetch_add(1, std::memory_order_relaxed); }

    // Routing touches only the queue and the hub-strand fields right after it
    // (adjacent cache lines): keep the hot ones together.
    coro::channel<queued_frame> queue;   // the single hand-off hub → writer

    // Hub strand only.
    std::uint64_t stamp = 0;  // last routed event, to deliver once per event
    // The outcome's reason, first recorded wins: the shard records what its
    // connection_state decided, the writer and the EOF watch what they saw
    // (client left, cancelled). Any strand.
    std::atomic<std::uint8_t> end{0};   // serve_reason + 1 once decided (end_with)
    std::atomic<bool> paused_shown{false};  // state.paused(), mirrored for stats() on any thread
    conn_slot slot = 0;
    connection_state state;   // every per-connection decision (src/connection/)

    std::unique_ptr<any_stream> stream;  // touched only on `strand`
    asio::any_io_executor strand;        // the connection's strand: its coroutines run there
    // Connection strand: the EOF reader has ended; run_connection waits on
    // reader_waiter (when set) for that before unregistering.
    bool reader_done = false;
    asio::steady_timer* reader_waiter = nullptr;
    std::array<char, 16> eof_sink;  // the EOF watch reads (and drops) into it
    std::atomic<std::int64_t> last_write_ns{0};     // idle detection for heartbeats
    std::atomic<std::int64_t> write_started_ns{0};  // 0 when no write is in flight
    const logger* log = nullptr;  // the hub's (it outlives the connection)

    // Replay (set before registration; then hub strand).
    std::optional<std::string> last_event_id;  // from Last-Event-ID or ?lastEventId=
    std::string resume_id;       // id for the `connected` event (empty: none)
    std::vector<std::pair<std::string, queued_frame>> held;
};

// A poller: hub-strand state plus the loop that runs on its own strand.
struct poller_state {
    explicit poller_state(asio::strand<asio::any_io_executor> s) : strand(std::move(s)) {}
    std::string topic;
    poll_fetch fetch;
    poller_options opts;
    asio::strand<asio::any_io_executor> strand;  // the poll loop runs here, never on the hub strand
    // Hub strand.
    bool running = false;
    bool finished = false;   // stop_when fired or detached: never restarts
    std::uint64_t generation = 0;
    unsigned failures = 0;
    frame latest;            // for subscribers that arrive between polls
    std::string last_payload;
    bool has_last = false;
    std::shared_ptr<asio::cancellation_signal> cancel;  // emitted on `strand`
    std::shared_ptr<std::atomic<bool>> stop_flag;
    std::atomic<int> stop_reason{0};
};

struct poll_step {
    bool stop = false;
    std::chrono::milliseconds delay{0};
};

// What every shard needs of one event, prepared once by the primary shard
// (id, encoded frame) and shared read-only with the others.
struct routed_event {
    std::string id;
    frame bytes;
    std::vector<std::string> topics;
    metadata group;
    priority lane = priority::instant;
    std::shared_ptr<const std::string> coalesce_key;  // coalesced lane only
    std::int64_t published_ns = 0;
    clock::time_point expires = clock::time_point::max();
    // async_publish: each shard adds what it matched; the last one answers.
    struct completion {
        publish_completion done;
        std::atomic<std::size_t> remaining{0};
        std::atomic<std::size_t> matched{0};
        std::string id;
    };
    std::shared_ptr<completion> done;  // may be empty
    void finish(std::size_t matched) const;
};

struct intake_item {
    event ev;
    std::int64_t published_ns = 0;
    clock::time_point expires = clock::time_point::max();
    publish_completion done;  // may be empty
    // Set on the intake of a shard other than the primary: already prepared
    // (and stored for replay) by the primary; `ev` is unused.
    std::shared_ptr<const routed_event> routed;
};

// The publish intake: a lock-free multi-producer stack. Publishers on any
// thread push with one compare-and-swap (no lock shared between publishers or
// with the hub strand); the run loop takes the whole stack with one exchange
// and reverses it, so each publisher's events keep their order.
class intake_stack {
public:
    intake_stack() = default;
    intake_stack(const intake_stack&) = delete;
    intake_stack& operator=(const intake_stack&) = delete;
    ~intake_stack();

    // False (item untouched) when `limit` items are already waiting.
    // `was_empty` tells the caller to wake the consumer.
    bool push(intake_item& item, std::size_t limit, bool& was_empty);
    // Moves everything pushed so far to `out`, oldest first (per publisher).
    void take(std::vector<intake_item>& out);
    bool empty() const noexcept { return head_.load(std::memory_order_acquire) == nullptr; }
    std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

private:
    struct node {
        intake_item item;
        node* next = nullptr;
    };
    std::atomic<node*> head_{nullptr};
    std::atomic<std::size_t> count_{0};
};

// One shard of a hub: its own strand, connections, subscription index, lanes
// and run loop. Shard 0 is the primary: it takes every publish, assigns ids,
// encodes the frame once, stores it for replay, and hands the prepared event
// to the other shards' lock-free intakes in the order it routed it (so every
// client sees one order and Last-Event-ID means the same on every shard); it
// also runs the pollers and the shutdown hooks. A hub with one shard is just
// the primary.
class hub_impl : public std::enable_shared_from_this<hub_impl> {
public:
    hub_impl(asio::any_io_executor ex, hub_config c, std::size_t shard_index = 0,
             std::shared_ptr<std::atomic<std::size_t>> total_active = nullptr);

    void start();
    std::error_code submit(event ev, publish_completion done);
    void request_stop();
    bool is_primary() const noexcept { return index == 0; }

    // Hub strand.
    asio::awaitable<void> run();
    asio::awaitable<std::error_code> add_connection(std::shared_ptr<connection_impl> c);
    asio::awaitable<void> remove_connection(std::shared_ptr<connection_impl> c);
    asio::awaitable<void> shutdown(std::chrono::milliseconds grace);
    void drain_intake();
    void route(intake_item& item, frame* routed = nullptr);
    // This shard's part of routing an event (every shard, primary included).
    std::size_t route_local(const routed_event& ev, clock::time_point now);
    void forward(std::shared_ptr<const routed_event> ev);  // another shard → this one's intake
    replay_result replay_now(connection_impl& c);           // primary, replay_sync
    asio::awaitable<replay_result> replay_on_primary(std::shared_ptr<connection_impl> c);
    // Primary: a connection registered on (or gone from) another shard, for the pollers.
    void remote_connected(std::shared_ptr<hub_impl> shard, std::shared_ptr<connection_impl> c);
    void remote_disconnected(const std::shared_ptr<connection_impl>& c);
    bool any_subscriber(std::string_view topic) const;
    void deliver_replay(connection_impl& c, replay_result& r);
    std::size_t replay_limit() const noexcept;
    asio::awaitable<void> replay_async(std::shared_ptr<connection_impl> c);
    // Pollers (poller.cpp).
    void start_poller(const std::shared_ptr<poller_state>& p);
    void stop_poller(const std::shared_ptr<poller_state>& p, poller_stop_reason why);
    void pollers_on_connect(connection_impl& c);
    void pollers_on_disconnect();
    asio::awaitable<poll_step> poll_outcome(std::shared_ptr<poller_state> p, std::uint64_t generation, poll_result r);
    void check_idle();
    void push_frame(connection_impl& c, queued_frame f);
    void count_drop(connection_impl& c, drop_reason why, std::size_t n = 1);
    void deliver(connection_impl& c, const queued_frame& q, const routed_event& ev, clock::time_point now);
    void schedule_flush(connection_impl& c);
    void flush_connection(connection_impl& c, clock::time_point now);
    void carry_out(const std::shared_ptr<connection_impl>& c, tick_action a);
    void flush_due(clock::time_point now);
    void set_paused(const std::shared_ptr<connection_impl>& c, bool paused);
    void drop_connection(const std::shared_ptr<connection_impl>& c);
    void sweep();
    void close_all_queues();
    void force_close_all();
    std::string next_id();
    // hub::disconnect (serve.cpp): `bye` is the final event.
    void disconnect(const std::shared_ptr<connection_impl>& c, frame bye);
    // report_exception with this hub's logger.
    void report_exception(const char* where, std::exception_ptr e) const noexcept;

    hub_config cfg;
    std::size_t index = 0;  // shard number; 0 = primary
    asio::strand<asio::any_io_executor> strand;
    asio::steady_timer wake;       // run loop sleeps on it; cancel() wakes it
    asio::steady_timer idle;       // shutdown waits on it for the last connection
    asio::steady_timer finished;   // a second shutdown waits on it for the first
    bool shutdown_started = false;
    std::atomic<bool> stopped{false};
    std::vector<std::function<void()>> shutdown_hooks;  // hub::on_shutdown; strand only
    std::chrono::milliseconds sweep_interval;

    intake_stack intake;  // publishers → hub strand, lock-free
    std::vector<intake_item> intake_batch;  // hub strand: what one drain routes

    // Hub strand; slots also guarded by registry_mutex for stats() readers.
    mutable std::mutex registry_mutex;
    std::vector<std::shared_ptr<connection_impl>> slots;
    std::unordered_map<std::string, std::shared_ptr<connection_impl>> by_id;  // set_paused()
    std::vector<conn_slot> free_slots;
    subscription_index subscriptions;
    group_index groups;
    std::vector<std::shared_ptr<poller_state>> pollers;
    std::atomic<std::size_t> poll_loops{0};  // running poll loop coroutines
    std::vector<conn_slot> dirty;  // connections with pending lanes
    clock::time_point next_flush_at = clock::time_point::max();
    // Write batching (run loop): routed counts since rate_since, and whether
    // the last measured rates asked for batching.
    clock::time_point rate_since{};
    std::uint64_t rate_events = 0;
    std::uint64_t rate_deliveries = 0;
    bool batching = false;
    clock::time_point last_drain{};
    void update_batching(clock::time_point now);
    std::vector<queued_frame> flush_scratch;
    std::uint64_t stamp = 0;
    std::uint64_t sequence = 0;
    std::mt19937_64 rng{std::random_device{}()};  // lifetime jitter
    std::string id_prefix;  // hub start time, so ids are unique across restarts
    std::string last_routed_id;
    std::string start_marker;  // primary: the replay store's first id (stored by run())
    // Primary: the replayer offers the synchronous fast path (store_now/replay_now).
    bool replay_sync = false;
    bool run_done = false;

    // Sharding. Primary: the other shards (set before start, cleared when its
    // shutdown has finished them) and, on its strand, the subscriptions of
    // their connections (for the pollers). Others: the primary, weakly.
    std::vector<std::shared_ptr<hub_impl>> peers;
    std::weak_ptr<hub_impl> primary;
    subscription_index remote_subscriptions;
    std::unordered_map<const connection_impl*, conn_slot> remote_slots;
    std::vector<conn_slot> free_remote_slots;
    std::size_t shards_stopping = 0;  // primary strand: peers whose shutdown runs
    std::shared_ptr<std::atomic<std::size_t>> total_active;  // all shards: max_connections

    std::atomic<std::size_t> active{0};
    std::atomic<std::uint64_t> connections_total{0};
    std::atomic<std::uint64_t> published{0};
    std::atomic<std::uint64_t> rejected{0};
    std::atomic<std::uint64_t> expired{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> dropped_queue_full{0};
    std::atomic<std::uint64_t> dropped_lane_cap{0};
    std::atomic<std::uint64_t> dropped_paused{0};
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<std::uint64_t> replayed{0};
    // Publish-to-write latency, bucket upper bounds in hub_stats::latency_bounds_us.
    std::array<std::atomic<std::uint64_t>, latency_buckets> latency{};
    std::atomic<std::uint64_t> latency_sum_us{0};
    void observe_latency(std::int64_t ns) noexcept;
    std::atomic<std::uint64_t> slow_disconnects{0};
    std::atomic<std::size_t> paused_count{0};
};

// A `resync` event: the client missed something and should refetch.
frame resync_frame(std::string_view reason);

// What a serve call hands the connection beside the stream; freed once the
// stream's head is written (or the request refused), so a long-lived stream
// keeps none of it.
struct serve_args {
    std::optional<http::request> request;  // a head parsed elsewhere; empty: read it from the stream
    serve_options options;
    serve_outcome outcome;  // set when the request is refused before streaming
};

// The connection body (connection.cpp), on the connection's strand: the
// caller's when it already runs on a strand of the stream's context, else a
// new one. R: void (async_serve without options) or serve_outcome.
template <class R>
asio::awaitable<R> run_connection(std::shared_ptr<hub_impl> hub, std::unique_ptr<any_stream> stream,
                                  std::unique_ptr<serve_args> args);
extern template asio::awaitable<void> run_connection<void>(std::shared_ptr<hub_impl>, std::unique_ptr<any_stream>,
                                                           std::unique_ptr<serve_args>);
extern template asio::awaitable<serve_outcome> run_connection<serve_outcome>(std::shared_ptr<hub_impl>,
                                                                             std::unique_ptr<any_stream>,
                                                                             std::unique_ptr<serve_args>);

// A strand of its own for a connection on `stream` (connection.cpp).
asio::any_io_executor make_connection_strand(any_stream& stream);

// The shard that holds a connection, and the connection; both null when no
// shard has this id. Any thread (takes each shard's registry_mutex).
std::pair<std::shared_ptr<hub_impl>, std::shared_ptr<connection_impl>> find_connection(
    const std::vector<std::shared_ptr<hub_impl>>& shards, std::string_view connection_id);

// 128 random bits as 32 hex digits.
std::string random_connection_id();

// Reports an exception escaping a spawned coroutine or a hook to `log` (at
// level error); never swallowed.
void report_exception(const logger& log, const char* where, std::exception_ptr e) noexcept;

}  // namespace ssehub::detail
