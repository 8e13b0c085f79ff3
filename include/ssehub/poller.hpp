// Polling sources bound to subscribers: one poll for everybody, only while
// somebody watches the topic, pushing only what changed. Built outside the
// hub on its public API: hub::watch_interest starts and stops each loop,
// hub::spawn makes it background work that async_shutdown waits for, and
// each value goes out as a retained event (event::retain), so a subscriber
// that arrives between polls gets the latest value at once.
// Thread safety: the option and result types are plain values (distinct
// objects: safe; shared objects: unsafe); `pollers`: every member is safe
// from any thread.
#pragma once

#include "ssehub/event.hpp"
#include "ssehub/hub.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace ssehub {

// What a fetch returns: a payload, or an error (message for the error event).
struct poll_result {
    std::string payload;
    bool failed = false;
    std::string error_message;

    static poll_result ok(std::string payload) { return {std::move(payload), false, {}}; }
    static poll_result error(std::string message) { return {{}, true, std::move(message)}; }
};

// Given to fetch. The fetch runs inside the poll loop's coroutine: Asio
// operations it co_awaits are cancelled when the poller stops (the last
// subscriber left, detach, shutdown); stop_requested() tells the same for
// work that is not an Asio operation.
class poll_context {
public:
    poll_context(asio::any_io_executor ex, std::shared_ptr<const std::atomic<bool>> stop)
        : executor_(std::move(ex)), stop_(std::move(stop)) {}
    const asio::any_io_executor& executor() const noexcept { return executor_; }
    bool stop_requested() const noexcept { return stop_->load(std::memory_order_relaxed); }

private:
    asio::any_io_executor executor_;
    std::shared_ptr<const std::atomic<bool>> stop_;
};

using poll_fetch = std::function<asio::awaitable<poll_result>(const poll_context&)>;

enum class poller_stop_reason {
    no_subscribers,  // the last subscriber left (it starts again with the next one)
    condition,       // stop_when returned true (it will not start again)
    detached,        // pollers::detach, a second attach of the topic, or ~pollers
    shutdown,        // the hub shut down
};

struct poller_options {
    std::chrono::milliseconds interval{5000};
    bool only_on_change = true;               // publish only when the payload differs from the last one
    std::string event_type = "update";
    priority lane = priority::instant;
    std::function<bool(const std::string& payload)> stop_when;  // true: stop polling for good
    std::function<void(poller_stop_reason)> on_stop;            // each time the loop ends; on the poll strand
    // On a failed fetch an `error_event_type` event goes out with data
    // {"topic":..., "error":..., "api_version":...}; retries back off
    // interval × backoff_factor^failures, up to max_backoff.
    std::string error_event_type = "poll_error";
    std::string api_version = "v1";
    double backoff_factor = 2.0;
    std::chrono::milliseconds max_backoff{60000};
};

// The pollers of one hub. Fetches run on a strand of `ex`, never on the hub
// strand. The hub must outlive this object; destroying it detaches every
// poller (their loops end soon after, through cancellation).
class pollers {
public:
    pollers(hub& h, asio::any_io_executor ex);
    ~pollers();
    pollers(const pollers&) = delete;
    pollers& operator=(const pollers&) = delete;

    // Polls `fetch` every interval while at least one connection subscribes
    // to `topic` (exactly or through a wildcard), publishing the payload to
    // it as `options.event_type`. `topic` is a literal topic. Errors:
    // invalid_topic, hub_stopped; attaching a topic twice replaces the first.
    std::error_code attach(std::string topic, poll_fetch fetch, poller_options options = {});
    void detach(const std::string& topic);

    struct state;  // (src/poller.cpp)

private:
    std::shared_ptr<state> state_;
};

}  // namespace ssehub
