#include "connection/connection_state.hpp"

#include <algorithm>

namespace ssehub::detail {

void connection_state::start(time_point now, double jitter, const hub_config& cfg) noexcept {
    if (cfg.max_lifetime.count() <= 0) {
        deadline_ = time_point::max();  // unlimited
        return;
    }
    // Clients that connected together do not reconnect together.
    const double factor = 1.0 + std::clamp(jitter, -1.0, 1.0) * std::max(0.0, cfg.lifetime_jitter);
    deadline_ = now + std::chrono::duration_cast<state_clock::duration>(cfg.max_lifetime * std::max(0.0, factor));
}

void connection_state::missed(time_point now) noexcept {
    if (!owes_resync_) {
        owes_resync_ = true;
        behind_since_ = now;
    }
}

void connection_state::on_queue_full(time_point now) noexcept { missed(now); }

route_decision connection_state::schedule(time_point now, std::size_t queued, const hub_config& cfg) noexcept {
    // At most one flush per adaptive interval: a quiet connection flushes one
    // interval after its first pending frame, a busy one no more often.
    if (next_flush_ < now) next_flush_ = now + flush_interval_for(queued, cfg.send_queue, cfg);
    if (paused_ || scheduled_) return {route_action::kept, {}};
    scheduled_ = true;
    return {route_action::scheduled, {}};
}

route_decision connection_state::on_event(priority lane, const queued_frame& f,
                                          const std::shared_ptr<const std::string>& coalesce_key, time_point expires,
                                          time_point now, std::size_t queued, const hub_config& cfg) {
    if (lane == priority::instant) return {on_instant(), {}};
    if (ending()) return {route_action::skip, {}};
    if (replaying_) return {route_action::hold, {}};
    switch (lane) {
    case priority::instant: break;
    case priority::batched:
        if (paused_) {
            // Hidden tab: not kept, and no resync while hidden; one on resume.
            resync_on_resume_ = true;
            return {route_action::dropped, drop_reason::paused};
        }
        if (!lanes_for_write().add_batched(f, expires, cfg.max_batched)) {
            missed(now);
            return {route_action::dropped, drop_reason::lane_cap};
        }
        return schedule(now, queued, cfg);
    case priority::coalesced:
        if (!lanes_for_write().add_coalesced(coalesce_key, f, expires, cfg.max_coalesce_keys)) {
            if (paused_) resync_on_resume_ = true;
            else missed(now);
            return {route_action::dropped, drop_reason::lane_cap};
        }
        return schedule(now, queued, cfg);
    }
    return {route_action::skip, {}};
}

std::size_t connection_state::take_pending(time_point now, std::vector<queued_frame>& out) {
    return lanes_ ? lanes_->take(now, out) : 0;
}

void connection_state::flushed(time_point now, std::size_t queued_after, const hub_config& cfg) noexcept {
    next_flush_ = now + flush_interval_for(queued_after, cfg.send_queue, cfg);
}

bool connection_state::pause(std::size_t& discarded) noexcept {
    discarded = 0;
    if (ending() || paused_) return false;
    paused_ = true;
    // What is already batched is discarded; the client learns it on resume.
    discarded = lanes_ ? lanes_->discard_batched() : 0;
    if (discarded) resync_on_resume_ = true;
    return true;
}

bool connection_state::resume(bool& resync) noexcept {
    resync = false;
    if (ending() || !paused_) return false;
    paused_ = false;
    if (resync_on_resume_) {
        resync_on_resume_ = false;
        resync = true;
        owes_resync_ = false;  // the paused resync covers what it missed
    }
    return true;
}

tick_action connection_state::on_tick(const tick_input& in, const hub_config& cfg) noexcept {
    if (ending()) return tick_action::none;
    if (in.now >= auth_deadline_) {
        end(serve_reason::auth_expired);
        return tick_action::end_expired;
    }
    if (in.now >= deadline_) {
        end(serve_reason::lifetime);
        return tick_action::end_gracefully;
    }
    const bool writing = in.write_started != time_point{};
    if (writing && in.now - in.write_started > cfg.write_timeout) {
        end(serve_reason::write_timeout);
        return tick_action::end_now;
    }
    if (owes_resync_) {
        if (in.queued < cfg.send_queue) {  // room: the resync goes out now
            owes_resync_ = false;
            return tick_action::send_resync;
        }
        if (in.now - behind_since_ > cfg.slow_consumer_timeout) {
            end(serve_reason::slow_consumer);
            return tick_action::end_now;
        }
    }
    if (cfg.heartbeat_interval.count() > 0 && !writing && in.queued == 0 &&
        in.now - in.last_write >= cfg.heartbeat_interval)
        return tick_action::heartbeat;
    return tick_action::none;
}

bool connection_state::end(serve_reason why) noexcept {
    if (ending_) return false;
    end_ = why;
    ending_ = true;
    return true;
}

}  // namespace ssehub::detail
