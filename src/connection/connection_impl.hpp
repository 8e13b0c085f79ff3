// Private: one connection as the shard and its writer share it. The shard
// (its strand) owns `state`, the slot and the replay fields; the writer (the
// connection's strand) owns the stream; the queue is the single hand-off.
#pragma once

#include "connection/connection_state.hpp"
#include "hub/intake.hpp"
#include "subscription_index.hpp"

#include "ssehub/connection.hpp"
#include "ssehub/detail/any_stream.hpp"
#include "ssehub/logger.hpp"
#include "ssehub/serve.hpp"

#include <ssehub/coro/channel.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ssehub::detail {

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
        end_.compare_exchange_strong(none, static_cast<std::uint8_t>(static_cast<int>(r) + 1), std::memory_order_relaxed);
    }
    void count_sent(std::uint64_t n) noexcept { sent_.fetch_add(n, std::memory_order_relaxed); }
    void count_dropped() noexcept { dropped_.fetch_add(1, std::memory_order_relaxed); }

    // Routing touches only the queue and the hub-strand fields right after it
    // (adjacent cache lines): keep the hot ones together.
    coro::channel<queued_frame> queue;   // the single hand-off hub → writer

    // Hub strand only.
    std::uint64_t stamp = 0;  // last routed event, to deliver once per event
    // (The outcome's reason, connection::end_, first recorded wins: the shard
    // records what its connection_state decided, the writer and the EOF watch
    // what they saw (client left, cancelled). Any strand.)
    std::atomic<bool> paused_shown{false};  // state.paused(), mirrored for stats() on any thread
    // Set before registration: the shard may write to this stream itself
    // (hub_config::single_thread_contexts, a plain socket on its io_context).
    // Beside the routing fields, in what was padding.
    bool direct_writes = false;
    conn_slot slot = 0;
    connection_state state;   // every per-connection decision (src/connection/)

    std::unique_ptr<any_stream> stream;  // touched only on `strand` (and by the shard's direct writes: same thread)
    asio::any_io_executor strand;        // the connection's strand: its coroutines run there
    // Connection strand: the EOF reader has ended; run_connection waits on
    // reader_waiter (when set) for that before unregistering.
    bool reader_done = false;
    // Shard strand: registration time, Unix seconds (presence); beside
    // reader_done, in what would be padding.
    std::uint32_t connected_s = 0;
    asio::steady_timer* reader_waiter = nullptr;
    std::array<char, 8> eof_sink;  // the EOF watch reads (and drops) into it
    std::atomic<std::int64_t> last_write_ns{0};     // idle detection for heartbeats
    std::atomic<std::int64_t> write_started_ns{0};  // 0 when no write is in flight
    const logger* log = nullptr;  // the hub's (it outlives the connection)

    // Replay, for a client that reconnects with a Last-Event-ID (null for
    // every other connection: an idle stream keeps none of it). Set before
    // registration; then hub strand, until the replay is delivered.
    struct replay_fields {
        std::string last_event_id;  // from Last-Event-ID or ?lastEventId= (empty: unknown, answered with `resync`)
        std::vector<std::pair<std::string, queued_frame>> held;  // live events that arrived during the replay
    };
    std::unique_ptr<replay_fields> replay;
};

}  // namespace ssehub::detail
