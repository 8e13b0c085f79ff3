// Private, sans-io: every decision about one connection's stream, in one
// place. What is pending in which lane, paused or not, when the lanes flush
// (the adaptive tier), heartbeat due, write timeout, lifetime end with jitter,
// slow consumer, which `resync` is owed and why, and why the stream ended.
//
// It takes `now` and inputs and returns actions; it owns no socket, no queue
// and no clock. The shard calls it on its strand and carries the actions out
// (queue a frame, close the queue, drop the stream); the writer coroutine
// reports its writes through the connection's atomics, which the shard passes
// in as tick inputs. Tests drive it with a mock clock (tests/unit/
// test_connection_state.cpp).
//
// Thread safety: Distinct objects: safe. Shared objects: unsafe (the owning
// shard's strand only).
#pragma once

#include "lanes.hpp"

#include "ssehub/config.hpp"
#include "ssehub/event.hpp"
#include "ssehub/serve.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ssehub::detail {

using state_clock = std::chrono::steady_clock;

// Why a stream ended is the public serve_reason (serve.hpp): the state
// decides lifetime, write_timeout and slow_consumer itself, and records
// shutdown and disconnected when told (end()).

// The reasons a `resync` event gives the client.
enum class resync_reason : std::uint8_t { slow_consumer, paused, unknown_last_event_id, replay_truncated };

// Why a connection missed an event.
enum class drop_reason : std::uint8_t { queue_full, lane_cap, paused };

// What the shard does with one routed event for this connection.
enum class route_action : std::uint8_t {
    skip,             // the stream is ending
    hold,             // a replay is being answered: keep it for after the replay
    push,             // queue the frame now
    flush_then_push,  // queue take_pending()'s frames, then this frame
    scheduled,        // kept in a lane; flush at next_flush(): put it on the flush list
    kept,             // kept in a lane, already on the flush list (or paused: held until resume)
    dropped,          // not kept: count a drop (route_decision::why)
};

struct route_decision {
    route_action action = route_action::skip;
    drop_reason why = drop_reason::queue_full;  // for `dropped`
};

// What one timer tick asks for (at most one thing: each excludes the others).
enum class tick_action : std::uint8_t {
    none,
    end_gracefully,  // lifetime: close the queue, the writer drains what is queued
    end_expired,     // the credential expired: queue the auth-expired event, then as end_gracefully
    end_now,         // write timeout or slow consumer: close the stream
    send_resync,     // queue resync(reason()) — the queue has room
    heartbeat,       // idle: queue a comment frame (the reserved slot)
};

// Tick inputs from the writer and the queue.
struct tick_input {
    state_clock::time_point now;
    std::size_t queued = 0;                   // frames in the connection's queue
    state_clock::time_point write_started{};  // epoch (zero): no write in flight
    state_clock::time_point last_write{};     // end of the last write (or registration)
};

class connection_state {
public:
    using time_point = state_clock::time_point;

    // Registration. `jitter` is a sample in [-1, 1] (the shard's random
    // source; 0 in tests that want the plain lifetime): the lifetime is
    // max_lifetime × (1 + jitter × lifetime_jitter); max_lifetime 0 = unlimited.
    void start(time_point now, double jitter, const hub_config& cfg) noexcept;
    // The credential's end (auth_outcome::expires, grace included); before
    // or after start(). Default: never.
    void expire_at(time_point t) noexcept { auth_deadline_ = t; }

    // A routed event that matched this connection. `queued` is its queue's
    // size now (the adaptive flush tier). Batched and coalesced frames are
    // kept here.
    route_decision on_event(priority lane, const queued_frame& f, const std::shared_ptr<const std::string>& coalesce_key,
                            time_point expires, time_point now, std::size_t queued, const hub_config& cfg);

    // The instant lane alone, inline: the hot path of every fan-out, which
    // needs neither the queue's size nor the clock (on_event gives the same
    // answer for an instant event).
    route_action on_instant() const noexcept {
        if (ending()) return route_action::skip;
        if (replaying_) return route_action::hold;
        // Pending batched/coalesced frames go first: `complete` never overtakes `progress`.
        return !paused_ && lanes_pending() ? route_action::flush_then_push : route_action::push;
    }

    // The queue refused a frame (full): the client is behind and is owed a
    // `resync` (slow_consumer). Not called for a stream that is ending.
    void on_queue_full(time_point now) noexcept;

    // Moves the pending lane frames (batched in publish order, then coalesced
    // in first-seen key order) to `out`, skipping expired ones; returns how
    // many expired. Then the next flush is not before now + the adaptive
    // interval for `queued_after` (the queue's size once `out` is queued; pass
    // the current size plus out's size when unknown).
    std::size_t take_pending(time_point now, std::vector<queued_frame>& out);
    void flushed(time_point now, std::size_t queued_after, const hub_config& cfg) noexcept;

    // On the flush list: is the flush due? Or should it leave the list
    // (nothing pending, paused, ending)? `scheduled()` says it is on the list.
    bool flush_due(time_point now) const noexcept { return !paused_ && !ending() && lanes_pending() && now >= next_flush_; }
    bool keep_scheduled() const noexcept { return !paused_ && !ending() && lanes_pending(); }
    void unschedule() noexcept { scheduled_ = false; }
    bool scheduled() const noexcept { return scheduled_; }
    time_point next_flush() const noexcept { return next_flush_; }

    // Pause (a hidden tab): batched frames are discarded (returned: count
    // them as drops for `paused`); the client is owed one `resync` (paused)
    // on resume if anything was discarded. No resync while hidden.
    // Returns false when already paused or ending.
    bool pause(std::size_t& discarded) noexcept;
    // Resume: returns false when not paused or ending. `resync` is set when
    // the client must refetch (paused; it also covers a slow-consumer resync
    // owed). Then flush: take_pending() at once.
    bool resume(bool& resync) noexcept;
    bool paused() const noexcept { return paused_; }

    // The timer: write timeout, lifetime, slow consumer, owed resync, heartbeat.
    tick_action on_tick(const tick_input& in, const hub_config& cfg) noexcept;
    resync_reason owed_resync() const noexcept { return resync_reason::slow_consumer; }
    bool owes_resync() const noexcept { return owes_resync_; }

    // Replay: live events are held while an awaitable replay is answered.
    void replay_started() noexcept { replaying_ = true; }
    void replay_finished() noexcept { replaying_ = false; }
    bool replaying() const noexcept { return replaying_; }

    // Ends the stream for `why` (the first reason wins); false when already ending.
    bool end(serve_reason why) noexcept;
    bool ending() const noexcept { return ending_; }
    // Why it ended; client_left when nothing else ended it.
    serve_reason reason() const noexcept { return ending_ ? end_ : serve_reason::client_left; }

    time_point deadline() const noexcept { return deadline_; }
    time_point behind_since() const noexcept { return behind_since_; }
    const lane_buffer& lanes() const noexcept {
        static const lane_buffer none;
        return lanes_ ? *lanes_ : none;
    }

private:
    void missed(time_point now) noexcept;
    route_decision schedule(time_point now, std::size_t queued, const hub_config& cfg) noexcept;

    bool lanes_pending() const noexcept { return lanes_ && !lanes_->empty(); }
    lane_buffer& lanes_for_write() {
        if (!lanes_) lanes_ = std::make_unique<lane_buffer>();
        return *lanes_;
    }

    // Created by the first batched or coalesced event: a connection that
    // only gets instant events (or none) keeps 8 bytes here, not 48.
    std::unique_ptr<lane_buffer> lanes_;
    time_point deadline_ = time_point::max();
    time_point next_flush_{};
    time_point behind_since_{};
    serve_reason end_ = serve_reason::client_left;  // meaningful once ending_
    time_point auth_deadline_ = time_point::max();
    bool ending_ = false;
    bool paused_ = false;
    bool replaying_ = false;
    bool scheduled_ = false;         // on the shard's flush list
    bool owes_resync_ = false;       // missed events: owes resync(slow_consumer) when the queue has room
    bool resync_on_resume_ = false;  // discarded while paused: owes resync(paused) on resume
};

}  // namespace ssehub::detail
