// Private: what happens once per hub. The publish intake, ids, encoding each
// event once, the replay store, the interest counts across shards (and the
// watchers of hub::watch_interest), the shutdown hooks, and the structured
// shutdown of every shard. It hands each drained batch, in sequence order, to
// every shard; it never touches a connection. Everything not atomic is
// touched only on `strand` (the hub's executor).
#pragma once

#include "hub/intake.hpp"
#include "hub/shard.hpp"

#include "ssehub/config.hpp"
#include "ssehub/hub.hpp"

#include <ssehub/coro/task_scope.hpp>

#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ssehub::detail {

class sequencer : public std::enable_shared_from_this<sequencer> {
public:
    sequencer(asio::any_io_executor ex, hub_config c, std::vector<std::shared_ptr<shard>> shards);

    // Spawns the run loops (this one and every shard's) in `tasks`.
    void start();
    // Any thread: validate, then the lock-free intake (never blocks).
    std::error_code submit(event ev, publish_completion done);
    std::error_code submit_clear(std::string topic);
    void request_stop();

    // Sequencer strand.
    asio::awaitable<void> run(std::shared_ptr<sequencer> keep_alive);
    void drain_intake();
    // One publish made ready for the shards: TTL, id, the frame encoded once.
    // False when it expired or does not encode (its completion is answered).
    bool prepare(intake_item& item, routed_event& out, clock::time_point now);
    void store(const routed_event& ev, clock::time_point now);  // for replay
    // The replay for a reconnecting client (read on this strand, so that it
    // is ordered with the batches handed to the shards).
    asio::awaitable<replay_result> replay(std::shared_ptr<connection_impl> c);
    std::size_t replay_limit() const noexcept;
    // A shard's first subscriber to `pattern` came (up) or its last left.
    void interest_changed(const std::string& pattern, bool up);
    void watch(std::uint64_t id, std::string topic, std::function<void()> on_first, std::function<void()> on_last);
    void unwatch(std::uint64_t id);
    void watch_patterns(std::uint64_t id, std::function<void(const std::string&, bool)> on_change);
    asio::awaitable<void> shutdown(std::chrono::milliseconds grace);
    void report_exception(const char* where, std::exception_ptr e) const noexcept;

    hub_config cfg;
    asio::strand<asio::any_io_executor> strand;
    std::vector<std::shared_ptr<shard>> shards;
    // The run loops, replay stores and replays: joined (never cancelled) at
    // the end of shutdown.
    coro::task_scope tasks;
    // hub::spawn (pollers, fan-out loops): cancelled when shutdown starts,
    // joined before it completes.
    coro::task_scope background;
    std::atomic<bool> stopped{false};
    std::atomic<std::uint64_t> published{0};
    std::atomic<std::uint64_t> rejected{0};
    std::atomic<std::uint64_t> expired{0};
    // The replayer's event count after its last store (sized_replayer), -1 unknown.
    std::atomic<std::int64_t> replay_events{-1};
    std::atomic<std::uint64_t> next_watch{0};
    std::string start_marker;  // the replay store's first id (stored by run())

    void on_shutdown(std::function<void()> fn);  // strand

private:
    std::string next_id();
    void wake_up();
    // Waits on `idle` until `scope` has no task or `deadline` passes.
    asio::awaitable<void> join(coro::task_scope& scope, clock::time_point deadline);
    void call(const std::function<void()>& fn, const char* where) const noexcept;

    asio::steady_timer wake_;      // the run loop sleeps on it
    asio::steady_timer idle_;      // shutdown waits on it
    asio::steady_timer finished_;  // a second shutdown waits on it for the first
    intake_stack<intake_item> intake_;
    std::vector<intake_item> intake_batch_;
    bool replay_sync_ = false;  // the replayer offers store_now/replay_now
    bool shutdown_started_ = false;
    bool run_done_ = false;
    std::size_t shards_stopping_ = 0;
    std::string id_prefix_;  // hub start time, so ids are unique across restarts
    std::uint64_t sequence_ = 0;
    std::vector<std::function<void()>> shutdown_hooks_;
    // Interest: pattern → shards with a subscriber to it; the watchers, each
    // with how many live patterns match its topic.
    std::unordered_map<std::string, std::size_t> interest_;
    struct watcher {
        std::uint64_t id;
        std::string topic;
        std::function<void()> on_first;
        std::function<void()> on_last;
        std::size_t live = 0;
    };
    std::vector<watcher> watchers_;
    // hub::watch_patterns: told of every pattern's first and last subscriber.
    std::vector<std::pair<std::uint64_t, std::function<void(const std::string&, bool)>>> pattern_watchers_;
};

// The shard that holds a connection, and the connection; both null when no
// shard has this id. Any thread (takes each shard's registry_mutex).
std::pair<std::shared_ptr<shard>, std::shared_ptr<connection_impl>> find_connection(
    const std::vector<std::shared_ptr<shard>>& shards, std::string_view connection_id);

}  // namespace ssehub::detail
