// The hub: routes published events to the connections whose topics and
// metadata match, and serves each connection's event stream.
//
// Thread safety: every member function is safe to call from any thread.
// Hub state lives on one strand (get_executor()); publishers hand events to a
// bounded intake and never block.
#pragma once

#include "ssehub/config.hpp"
#include "ssehub/connection.hpp"
#include "ssehub/detail/any_stream.hpp"
#include "ssehub/error.hpp"
#include "ssehub/event.hpp"
#include "ssehub/http.hpp"
#include "ssehub/presence.hpp"
#include "ssehub/serve.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/co_spawn.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ssehub {

struct publish_result {
    std::string id;           // the event's id (assigned by the hub when empty)
    std::size_t matched = 0;  // connections the event was routed to
};

struct connection_stats {
    std::string id;
    std::uint64_t sent = 0;     // frames written (events, heartbeats)
    std::uint64_t dropped = 0;  // frames dropped because the queue was full
    std::vector<std::string> topics;  // subscribed patterns
    bool paused = false;              // set_paused(id, true) is in effect
};

struct hub_stats {
    std::size_t active_connections = 0;
    std::uint64_t connections_total = 0;  // ever registered
    std::uint64_t events_published = 0;   // routed by the hub
    std::uint64_t events_rejected = 0;    // refused by publish() (intake full)
    std::uint64_t events_expired = 0;     // TTL passed before delivery
    std::uint64_t events_dropped = 0;     // per-connection drops (queue full, batch cap), summed
    std::uint64_t slow_consumer_disconnects = 0;
    std::size_t paused_connections = 0;
    // Drops by reason (they sum to events_dropped).
    std::uint64_t dropped_queue_full = 0;  // the connection's queue was full
    std::uint64_t dropped_lane_cap = 0;    // max_batched / max_coalesce_keys exceeded
    std::uint64_t dropped_paused = 0;      // batched events discarded while paused
    std::uint64_t events_delivered = 0;    // published events written to clients (per receiver)
    std::uint64_t events_replayed = 0;     // events sent from the replayer at reconnect
    // Queue saturation, now: frames queued over all connections, and the fullest queue's fill (0..1).
    std::size_t queued_frames = 0;
    double max_queue_fill = 0;
    // Publish-to-write latency histogram (cumulative counts as Prometheus wants
    // them are the running sum of these): latency_counts[i] counts writes with
    // latency <= latency_bounds_us[i] (and > the previous bound); the last
    // element counts the rest.
    static constexpr std::array<std::uint64_t, 14> latency_bounds_us{
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000};
    std::array<std::uint64_t, latency_bounds_us.size() + 1> latency_counts{};
    std::uint64_t latency_sum_us = 0;
    // Connections per subscribed pattern, the most subscribed first, at most
    // `max_topics` entries (the argument of stats()).
    std::vector<std::pair<std::string, std::size_t>> topic_connections;
    // Connections per tenant (metadata "tenant_id"; connections without one
    // are not listed), the largest first, at most `max_tenants` entries.
    std::vector<std::pair<std::string, std::size_t>> tenant_connections;
    // Events the replayer holds, when it says (sized_replayer: the memory
    // replayer); empty for replayers that do not, or with none.
    std::optional<std::size_t> replay_events;
    std::vector<connection_stats> connections;  // empty unless asked for
};

class hub;
namespace detail {
struct serve_args;
// "ip:port" ("[v6]:port") of a stream whose lowest layer has remote_endpoint(); "" otherwise.
template <class Stream>
std::string remote_of(Stream& s) {
    if constexpr (requires(std::error_code& ec) { s.lowest_layer().remote_endpoint(ec).address().to_string(); }) {
        std::error_code ec;
        const auto ep = s.lowest_layer().remote_endpoint(ec);
        if (ec) return {};
        const auto a = ep.address();
        return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
    } else {
        return {};
    }
}
}  // namespace detail

namespace detail {
class sequencer;
// The serve contract's completion, type-erased: the connection's coroutine
// holds one pointer to it (not a co_spawn frame around it) and calls it once,
// on the connection's strand, when the stream is over.
class serve_done {
public:
    virtual ~serve_done() = default;
    virtual void complete(std::exception_ptr e, serve_outcome o) = 0;
};
// Posts the handler to its associated executor (else `fallback`), keeping
// that executor's work counted until then (as co_spawn does).
template <class Handler>
class serve_done_for final : public serve_done {
public:
    serve_done_for(Handler h, const asio::any_io_executor& fallback)
        : handler_(std::move(h)),
          work_(asio::prefer(asio::get_associated_executor(handler_, fallback),
                             asio::execution::outstanding_work.tracked)) {}
    void complete(std::exception_ptr e, serve_outcome o) override {
        auto work = std::move(work_);
        asio::post(work, [h = std::move(handler_), e, o = std::move(o)]() mutable { std::move(h)(e, std::move(o)); });
    }

private:
    Handler handler_;
    std::decay_t<decltype(asio::prefer(std::declval<asio::associated_executor_t<Handler, asio::any_io_executor>>(),
                                       asio::execution::outstanding_work.tracked))>
        work_;
};
class shard;
using publish_completion = std::function<void(std::error_code, publish_result)>;
using presence_completion = std::function<void(std::error_code, presence_page)>;
using count_completion = std::function<void(std::error_code, std::size_t)>;

// A copyable callable that, called on any thread with a completion's
// arguments, posts `handler` with them to the handler's associated executor
// (else `fallback`), keeping that executor's work alive until then.
template <class Handler>
auto post_back(Handler handler, const asio::any_io_executor& fallback) {
    auto ex = asio::get_associated_executor(handler, fallback);
    auto work = std::make_shared<asio::executor_work_guard<decltype(ex)>>(asio::make_work_guard(ex));
    auto shared = std::make_shared<Handler>(std::move(handler));
    return [shared, work](auto... args) {
        asio::post(work->get_executor(), [shared, args...]() mutable { (*shared)(std::move(args)...); });
        work->reset();
    };
}
}  // namespace detail

class hub {
public:
    // cfg.shards shards (default 1), each a strand on `ex`: with a
    // multi-threaded io_context, routing to different shards' connections
    // runs in parallel.
    explicit hub(asio::any_io_executor ex, hub_config cfg = {});
    // One shard per executor (e.g. one io_context per core, each run by one
    // thread); cfg.shards is ignored. A stream served with async_serve goes to
    // the shard on its own executor (accept it on the io_context of the shard
    // it should use), else round-robin. Throws std::invalid_argument when
    // `executors` is empty.
    hub(std::vector<asio::any_io_executor> executors, hub_config cfg = {});
    // Requests stop; connections still running end soon after. Prefer
    // `co_await async_shutdown(...)` first for a graceful end.
    ~hub();
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    const hub_config& config() const noexcept;
    // The hub strand: the sequencer's, which orders every publish, assigns
    // ids, stores for replay, counts interest and runs the shutdown hooks and
    // the watch_interest callbacks. (Each shard has a strand of its own.)
    asio::any_io_executor get_executor() const noexcept;
    std::size_t shard_count() const noexcept;

    // Validates and hands the event to the hub. Never blocks. Errors:
    // invalid_topic, invalid_event_field, no_target, intake_full, hub_stopped.
    std::error_code publish(event ev);

    // Completes after routing, with the event's id and matched connections.
    asio::awaitable<publish_result> async_publish(event ev);

    // Same, with any completion token: void(std::error_code, publish_result),
    // on the handler's associated executor (else the hub strand).
    // Cancellation: none; an event handed to the hub is routed (a publish is
    // never half done).
    template <class CompletionToken>
    auto async_publish(event ev, CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code, publish_result)>(
            [this](auto handler, event e) { enqueue(std::move(e), detail::post_back(std::move(handler), get_executor())); },
            token, std::move(ev));
    }

    // Forgets the retained value of `topic` (event::retain), in order with
    // the publishes before it. Errors: invalid_topic, hub_stopped.
    std::error_code clear_retained(std::string topic);

    // Serves one client: reads and validates the request head, runs on_connect,
    // registers, then streams events until the client leaves, the lifetime
    // ends, a write times out, or the hub shuts down.
    // (Not coroutines: the returned awaitable is the connection's own, so no
    // frame holding the moved-from arguments stays alive beside it.)
    template <async_stream Stream>
    asio::awaitable<void> async_serve(Stream stream) {
        return serve(std::make_unique<detail::stream_adapter<Stream>>(std::move(stream)), std::nullopt);
    }

    // Same, for a request head that another HTTP framework already parsed.
    template <async_stream Stream>
    asio::awaitable<void> async_serve(Stream stream, http::request request) {
        return serve(std::make_unique<detail::stream_adapter<Stream>>(std::move(stream)), std::move(request));
    }

    // The serve contract (docs/serving.md): serves one client with `options`
    // (extra response headers, a context for the hooks, default topics) and
    // completes, once the stream is over and the connection unregistered,
    // with void(std::exception_ptr, serve_outcome): why it ended, the status
    // answered and the connection id. `co_await hub.async_serve(std::move(s),
    // opts, asio::use_awaitable)` returns the outcome.
    // The connection runs on a strand of its own on the stream's executor.
    // Cancellation: a terminal cancellation through the token's cancellation
    // slot (per operation) ends this stream (outcome `disconnected`; what is
    // queued is not written); cleanup and on_disconnect still run before the
    // completion.
    template <async_stream Stream, class CompletionToken>
    auto async_serve(Stream stream, serve_options options, CompletionToken&& token) {
        return start_serve(std::move(stream), std::nullopt, std::move(options), std::forward<CompletionToken>(token));
    }

    // Same, for a request head that another HTTP framework already parsed
    // (or http::async_read_request read).
    template <async_stream Stream, class CompletionToken>
    auto async_serve(Stream stream, http::request request, serve_options options, CompletionToken&& token) {
        return start_serve(std::move(stream), std::optional<http::request>(std::move(request)), std::move(options),
                           std::forward<CompletionToken>(token));
    }

    // Ends a stream from the server side: the client gets a final event
    //   event: disconnect
    //   data: {"reason":"<reason>"}
    // after what is already queued, then the stream closes (its async_serve
    // completes with `disconnected`). Returns false when no connection has
    // this id. Safe from any thread; the stream ends asynchronously.
    bool disconnect(std::string_view connection_id, std::string_view reason);

    // Presence (<ssehub/presence.hpp>, docs/presence-and-admin.md): the
    // connections that subscribed `q.filter.topic` and carry `q.filter.match`,
    // a page at a time, sorted by id. Each shard answers on its strand from
    // its subscription index (or its metadata index when no topic is given),
    // so a query costs the matching connections, not all of them; the merged
    // answer is not one atomic snapshot across shards. Errors: invalid_topic.
    asio::awaitable<presence_page> async_presence(presence_query q);

    // Same, with any completion token: void(std::error_code, presence_page),
    // on the handler's associated executor (else the hub strand).
    // Cancellation: none (a query is short).
    template <class CompletionToken>
    auto async_presence(presence_query q, CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code, presence_page)>(
            [this](auto handler, presence_query query) {
                start_presence(std::move(query), detail::post_back(std::move(handler), get_executor()));
            },
            token, std::move(q));
    }

    // How many connections subscribed `topic` (a pattern, as subscribed):
    // the sum of each shard's member count, no list built.
    asio::awaitable<std::size_t> async_presence_count(std::string topic);

    // Same, with any completion token: void(std::error_code, std::size_t).
    template <class CompletionToken>
    auto async_presence_count(std::string topic, CompletionToken&& token) {
        return async_count(presence_filter{std::move(topic), {}}, std::nullopt, std::forward<CompletionToken>(token));
    }

    // hub::disconnect for every connection that matches `filter` (by user,
    // tenant, topic...); completes with how many were told to end. An empty
    // filter matches nothing (ending every stream is async_shutdown's job).
    // Errors: invalid_topic.
    asio::awaitable<std::size_t> async_disconnect(presence_filter filter, std::string reason);

    // Same, with any completion token: void(std::error_code, std::size_t).
    template <class CompletionToken>
    auto async_disconnect(presence_filter filter, std::string reason, CompletionToken&& token) {
        return async_count(std::move(filter), std::optional<std::string>(std::move(reason)),
                           std::forward<CompletionToken>(token));
    }

    // Stops accepting, ends every stream after what is queued is written, and
    // resumes when every connection has finished (streams still writing after
    // `grace` are closed) and the background work (spawn) has ended (or
    // `grace` has passed).
    asio::awaitable<void> async_shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

    // Same, with any completion token: void(std::error_code), on the
    // handler's associated executor (else the hub strand). Calling it twice is
    // harmless: the second completes when the first does.
    // Cancellation: none; a shutdown is never abandoned halfway (bound it
    // with `grace`).
    template <class CompletionToken>
    auto async_shutdown(std::chrono::milliseconds grace, CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code)>(
            [this](auto handler, std::chrono::milliseconds g) {
                start_shutdown(g, detail::post_back(std::move(handler), get_executor()));
            },
            token, grace);
    }

    // Runs `task` on `ex` as the hub's background work (a poll loop, a
    // fan-out loop): a terminal cancellation reaches it when shutdown starts,
    // and async_shutdown completes only after it has ended (or `grace` has
    // passed). An exception escaping it goes to the hub's logger. Returns
    // false, without starting it, once shutdown has started.
    bool spawn(asio::any_io_executor ex, asio::awaitable<void> task);

    // Interest in a literal topic: `on_first` runs when a connection whose
    // patterns match `topic` (exactly or through a wildcard) registers while
    // none does (at once if some already do), `on_last` when the last such
    // connection leaves. Both run on the hub strand, one at a time, and must
    // not block. Pollers are built on it (<ssehub/poller.hpp>); so is
    // interest-based fan-out. Returns an id for unwatch_interest; 0 when
    // `topic` is not a valid literal topic or the hub is shutting down
    // (watches end with the shutdown).
    std::uint64_t watch_interest(std::string topic, std::function<void()> on_first, std::function<void()> on_last);
    void unwatch_interest(std::uint64_t id);
    // Interest in patterns as the connections subscribe them:
    // `on_change(pattern, true)` when a pattern (literal or wildcard, as a
    // client wrote it) gets its first connection, at once for every pattern
    // that has one already; `on_change(pattern, false)` when its last leaves.
    // On the hub strand, must not block. A broker with wildcard subscriptions
    // (NATS) subscribes to exactly these. Returns an id for
    // unwatch_interest; 0 when the hub is shutting down.
    std::uint64_t watch_patterns(std::function<void(const std::string& pattern, bool up)> on_change);

    // A snapshot. Per-connection entries only with `with_connections`
    // (10k connections make a big list); topic counts capped at `max_topics`.
    hub_stats stats(bool with_connections = true, std::size_t max_topics = 0, std::size_t max_tenants = 0) const;

    // Pauses or resumes a connection (a hidden browser tab). While paused,
    // instant events still flow; batched events are discarded and coalesced
    // ones keep only their latest value. On resume the connection gets that
    // latest state, preceded by a `resync` event if batched events were
    // discarded. Returns false when no connection has this id.
    bool set_paused(std::string_view connection_id, bool paused);

    // Runs `fn` once, on the hub strand, when async_shutdown (or the
    // destructor) starts stopping the hub; at once (posted) if it already has.
    // Lets what feeds the hub stop with it (ssehub::fan_out, <ssehub/fan_out.hpp>,
    // uses it). Must not block.
    void on_shutdown(std::function<void()> fn);

private:
    asio::awaitable<void> serve(std::unique_ptr<detail::any_stream> stream, std::optional<http::request> request);
    // The connection's strand.
    asio::any_io_executor serve_executor(detail::any_stream& stream);
    // Starts the connection's coroutine on `ex` (src/serve.cpp); `done` gets
    // the outcome; `slot` (connected or not) cancels the stream.
    void launch_serve(const asio::any_io_executor& ex, std::unique_ptr<detail::any_stream> stream,
                      std::optional<http::request> request, serve_options options,
                      std::unique_ptr<detail::serve_done> done, asio::cancellation_slot slot);

    template <class Stream, class CompletionToken>
    auto start_serve(Stream stream, std::optional<http::request> request, serve_options options,
                     CompletionToken&& token) {
        if (options.context.remote.empty()) options.context.remote = detail::remote_of(stream);
        std::unique_ptr<detail::any_stream> s = std::make_unique<detail::stream_adapter<Stream>>(std::move(stream));
        return asio::async_initiate<CompletionToken, void(std::exception_ptr, serve_outcome)>(
            [this](auto handler, std::unique_ptr<detail::any_stream> st, std::optional<http::request> req,
                   serve_options opts) {
                const asio::any_io_executor ex = serve_executor(*st);
                // As co_spawn does: a terminal (or total) cancellation through
                // the handler's slot reaches the connection's coroutine.
                asio::cancellation_state proxy(asio::get_associated_cancellation_slot(handler),
                                               asio::enable_total_cancellation());
                using handler_type = std::decay_t<decltype(handler)>;
                launch_serve(ex, std::move(st), std::move(req), std::move(opts),
                             std::make_unique<detail::serve_done_for<handler_type>>(std::move(handler), ex),
                             proxy.slot());
            },
            token, std::move(s), std::move(request), std::move(options));
    }
    // Counts (no reason) or disconnects (a reason) what `filter` matches.
    template <class CompletionToken>
    auto async_count(presence_filter filter, std::optional<std::string> reason, CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code, std::size_t)>(
            [this](auto handler, presence_filter f, std::optional<std::string> why) {
                start_count(std::move(f), std::move(why), detail::post_back(std::move(handler), get_executor()));
            },
            token, std::move(filter), std::move(reason));
    }
    void start_presence(presence_query q, detail::presence_completion done);
    void start_count(presence_filter filter, std::optional<std::string> reason, detail::count_completion done);
    void enqueue(event ev, detail::publish_completion done);
    void start_shutdown(std::chrono::milliseconds grace, std::function<void(std::error_code)> done);
    std::shared_ptr<detail::shard> shard_for(const asio::any_io_executor& ex);

    std::shared_ptr<detail::sequencer> seq_;  // once per hub: intake, ids, replay store, interest
    std::vector<std::shared_ptr<detail::shard>> shards_;  // per core: connections, routing
    std::atomic<std::size_t> next_shard_{0};
    bool match_executor_ = true;  // every shard has an executor of its own
};

}  // namespace ssehub
