// Private: one shard of a hub, what happens per core. Its own strand, its
// connections (slots), subscription and group indexes, the lanes' flush list,
// the sweep that ticks every connection's state machine, and the retained
// values. It routes the batches the sequencer hands it, in the order it hands
// them; it never assigns ids, encodes or stores (the sequencer does, once per
// hub). Everything not atomic is touched only on `strand`.
#pragma once

#include "connection/connection_impl.hpp"
#include "group_index.hpp"
#include "hub/intake.hpp"
#include "subscription_index.hpp"

#include "ssehub/config.hpp"
#include "ssehub/hub.hpp"
#include "ssehub/replayer.hpp"

#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ssehub::detail {

inline constexpr std::size_t latency_buckets = hub_stats::latency_bounds_us.size() + 1;  // + the +Inf bucket

class sequencer;

class shard : public std::enable_shared_from_this<shard> {
public:
    shard(asio::any_io_executor ex, hub_config c, std::shared_ptr<std::atomic<std::size_t>> total_active);

    // Sequencer strand: hands this shard a batch to route (lock-free; wakes the run loop).
    void forward(routed_batch b, std::size_t events);
    std::size_t backlog() const noexcept { return backlog_.load(std::memory_order_relaxed); }

    // Any thread: takes one of max_connections (counted over all shards) for
    // a connection about to register; too_many_connections or hub_stopped.
    std::error_code reserve() noexcept;
    void unreserve() noexcept { total_active->fetch_sub(1, std::memory_order_relaxed); }

    // Shard strand.
    asio::awaitable<void> run(std::shared_ptr<shard> keep_alive);
    // Registers a connection that holds a reservation (released on failure).
    struct registration {
        std::error_code ec;
        std::string resume_id;  // the id of the `connected` event (empty: none)
    };
    asio::awaitable<registration> add_connection(std::shared_ptr<connection_impl> c);
    asio::awaitable<void> remove_connection(std::shared_ptr<connection_impl> c);
    asio::awaitable<void> shutdown(std::chrono::milliseconds grace, frame bye);
    void drain_intake();
    // Routes one event to this shard's matching connections; returns how many.
    std::size_t route(const routed_event& ev, clock::time_point now);
    void push_frame(connection_impl& c, queued_frame f);
    // hub_config::single_thread_contexts: writes `f` to an idle connection's
    // socket; false when the writer must take it (then `f` is what is left).
    bool write_directly(connection_impl& c, queued_frame& f);
    // push_frame, but written directly when the connection's writer is idle.
    void push_direct(connection_impl& c, queued_frame f);
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
    // hub::disconnect (serve.cpp): `bye` is the final event.
    void disconnect(const std::shared_ptr<connection_impl>& c, frame bye);
    void report_exception(const char* where, std::exception_ptr e) const noexcept;

    // Presence (src/hub/presence.cpp; shard strand): what this shard has of a
    // query. `total` counts every match, `after` those with an id past
    // q.after; `entries` holds the `keep` smallest of those, sorted by id.
    struct presence_part {
        std::size_t total = 0;
        std::size_t after = 0;
        std::vector<presence_entry> entries;
    };
    presence_part presence(const presence_query& q, std::size_t keep);
    // hub::async_disconnect: ends every match with `bye`; returns how many.
    std::size_t disconnect_matching(const presence_filter& f, const frame& bye);
    // hub_config::presence_events: `join` or `leave` on "$presence.<topic>"
    // for each literal topic of `c`.
    void publish_presence(const connection_impl& c, std::string_view type);

    hub_config cfg;
    std::weak_ptr<sequencer> seq;  // set before start
    asio::strand<asio::any_io_executor> strand;
    asio::steady_timer wake;  // the run loop sleeps on it; cancel() wakes it
    asio::steady_timer idle;  // shutdown waits on it for the last connection
    std::atomic<bool> stopped{false};  // set by the sequencer when shutdown starts
    bool run_done = false;
    std::chrono::milliseconds sweep_interval;
    frame expired_frame;  // hub_config::auth_expired_event, encoded once (empty: none)

    // Registry: strand; slots and by_id also under registry_mutex for readers on other threads.
    mutable std::mutex registry_mutex;
    std::vector<std::shared_ptr<connection_impl>> slots;
    // set_paused, disconnect. The key views the connection's own id (the
    // value keeps it alive): no second copy of every id.
    std::unordered_map<std::string_view, std::shared_ptr<connection_impl>> by_id;
    std::vector<conn_slot> free_slots;
    subscription_index subscriptions;
    group_index groups;
    // Connections per subscribed pattern on this shard: the sequencer hears
    // only when a pattern gains its first or loses its last (interest).
    std::unordered_map<std::string, std::size_t> pattern_refs;
    // The latest retained event per topic (event::retain), for new subscribers.
    struct retained_value {
        frame bytes;
        metadata group;
    };
    std::unordered_map<std::string, retained_value> retained;
    std::vector<conn_slot> dirty;  // connections with pending lanes
    clock::time_point next_flush_at = clock::time_point::max();
    std::vector<queued_frame> flush_scratch;
    std::uint64_t stamp = 0;
    std::mt19937_64 rng{std::random_device{}()};  // lifetime jitter
    std::string last_routed_id;  // the `connected` event's id (replay enabled)

    // Write batching (run loop): routed counts since rate_since, and whether
    // the last measured rates asked for batching.
    clock::time_point rate_since{};
    std::uint64_t rate_events = 0;
    std::uint64_t rate_deliveries = 0;
    bool batching = false;
    clock::time_point last_drain{};
    void update_batching(clock::time_point now);

    std::shared_ptr<std::atomic<std::size_t>> total_active;  // all shards: max_connections
    std::atomic<std::size_t> active{0};
    std::atomic<std::uint64_t> connections_total{0};
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

private:
    // Calls f(connection_impl&) for each registered connection matching `f`
    // (through the subscription index, else the group index; every
    // connection only for an empty filter).
    template <class F>
    void for_each_member(const presence_filter& filter, F&& f);
    void interest(const connection_impl& c, bool up);
    void send_retained(connection_impl& c);
    asio::awaitable<void> replay(std::shared_ptr<shard> keep_alive, std::shared_ptr<connection_impl> c);
    void deliver_replay(connection_impl& c, replay_result& r);
    intake_stack<routed_batch> intake_;  // sequencer → this strand, lock-free
    std::vector<routed_batch> intake_batch_;
    std::atomic<std::size_t> backlog_{0};  // events forwarded, not yet routed
};

// An event of `type` with data {"reason":...}: `resync` (the client missed
// something and should refetch), hub::disconnect's final `disconnect`.
frame reason_frame(std::string_view type, std::string_view reason);

// Reports an exception escaping a spawned coroutine or a hook to `log` (at
// level error); never swallowed.
void report_exception(const logger& log, const char* where, std::exception_ptr e) noexcept;

// 128 random bits as 32 hex digits.
std::string random_connection_id();

}  // namespace ssehub::detail
