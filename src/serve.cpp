// The serve contract's entry points: async_serve with options and outcome,
// and disconnect by id. The connection body itself is in connection.cpp.
#include "connection/run.hpp"
#include "hub/sequencer.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

namespace ssehub {

std::string_view to_string(serve_reason r) noexcept {
    switch (r) {
    case serve_reason::client_left: return "client_left";
    case serve_reason::lifetime: return "lifetime";
    case serve_reason::write_timeout: return "write_timeout";
    case serve_reason::slow_consumer: return "slow_consumer";
    case serve_reason::shutdown: return "shutdown";
    case serve_reason::disconnected: return "disconnected";
    case serve_reason::rejected: return "rejected";
    case serve_reason::auth_failed: return "auth_failed";
    case serve_reason::auth_expired: return "auth_expired";
    }
    return "unknown";
}

namespace detail {

void shard::disconnect(const std::shared_ptr<connection_impl>& c, frame bye) {
    if (!c->state.end(serve_reason::disconnected)) return;  // already on its way out, for another reason
    c->end_with(serve_reason::disconnected);
    c->queue.try_send(queued_frame{std::move(bye), 0});  // the reserved slot if the queue is full
    c->queue.close();  // the writer drains what is queued, then ends the stream
}

}  // namespace detail

asio::any_io_executor hub::serve_executor(detail::any_stream& stream) { return detail::make_connection_strand(stream); }

void hub::launch_serve(const asio::any_io_executor& ex, std::unique_ptr<detail::any_stream> stream,
                       std::optional<http::request> request, serve_options options,
                       std::unique_ptr<detail::serve_done> done, asio::cancellation_slot slot) {
    auto args = std::make_unique<detail::serve_args>();
    args->request = std::move(request);
    args->options = std::move(options);
    args->done = std::move(done);
    auto shard = shard_for(stream->get_executor());
#ifdef SSEHUB_SERVE_ENTRY
    // What co_spawn does, without its entry-point frame: the connection's
    // coroutine is the bottom of the stack, its cancellation state a child of
    // `slot`; launch() runs it up to its first suspension (the dispatch onto
    // `ex`).
    const asio::cancellation_state state(slot);
    asio::detail::awaitable_handler<asio::any_io_executor, void>(
        detail::run_connection<detail::serve_entry>(std::move(shard), std::move(stream), std::move(args)), ex, slot,
        state)
        .launch();
#else
    asio::co_spawn(ex, detail::run_connection<void>(std::move(shard), std::move(stream), std::move(args)),
                   asio::bind_cancellation_slot(slot, [](std::exception_ptr) {}));  // (`done` got any exception)
#endif
}

bool hub::disconnect(std::string_view connection_id, std::string_view reason) {
    auto [shard, c] = detail::find_connection(shards_, connection_id);
    if (!c) return false;
    asio::post(shard->strand, [shard, c, bye = detail::reason_frame("disconnect", reason)]() mutable {
        shard->disconnect(c, std::move(bye));
    });
    return true;
}

}  // namespace ssehub
