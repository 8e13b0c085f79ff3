// Private: how a serve call starts a connection's coroutine (connection.cpp).
#pragma once

#include "hub/shard.hpp"

#include "ssehub/http.hpp"
#include "ssehub/serve.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/version.hpp>

#include <chrono>
#include <memory>
#include <optional>

namespace ssehub::detail {

// What a serve call hands the connection beside the stream; freed once the
// stream's head is written (or the request refused), so a long-lived stream
// keeps none of it.
struct serve_args {
    std::optional<http::request> request;  // a head parsed elsewhere; empty: read it from the stream
    serve_options options;
    serve_outcome outcome;  // set when the request is refused before streaming
    std::chrono::milliseconds goodbye_timeout{0};  // a refusal's TLS close_notify (hub_config::write_timeout)
    std::string resume_id;  // the `connected` event's id, from registration (shard::add_connection)
    // The serve contract's completion (null for async_serve without options):
    // called once with the outcome, exceptions included, instead of the
    // coroutine returning them. Moved out of here before `args` is freed.
    std::unique_ptr<serve_done> done;
};

// With Asio 1.22.1 the serve contract's connection coroutine is the bottom
// frame of an Asio coroutine "thread" itself, launched as co_spawn launches
// its entry point: no co_spawn frame (about 480 bytes) stays alive beside it
// for as long as the stream runs. Relies on Asio 1.22's awaitable internals:
// with any other version (or SSEHUB_NO_ASIO_INTERNALS) it is co_spawned as
// run_connection<void>.
#if ASIO_VERSION == 102201 && !defined(SSEHUB_NO_ASIO_INTERNALS)
#define SSEHUB_SERVE_ENTRY 1
using serve_entry = asio::detail::awaitable_thread_entry_point;
#endif

// The connection body, on the connection's strand: the caller's when it
// already runs on a strand of the stream's context, else a new one.
// R: void (awaited; or co_spawned, with args->done), or serve_entry (the
// serve contract, launched by hub::launch_serve, with args->done).
template <class R>
asio::awaitable<R> run_connection(std::shared_ptr<shard> home, std::unique_ptr<any_stream> stream,
                                  std::unique_ptr<serve_args> args);
extern template asio::awaitable<void> run_connection<void>(std::shared_ptr<shard>, std::unique_ptr<any_stream>,
                                                           std::unique_ptr<serve_args>);
#ifdef SSEHUB_SERVE_ENTRY
extern template asio::awaitable<serve_entry> run_connection<serve_entry>(std::shared_ptr<shard>,
                                                                         std::unique_ptr<any_stream>,
                                                                         std::unique_ptr<serve_args>);
#endif

// A strand of its own for a connection on `stream`.
asio::any_io_executor make_connection_strand(any_stream& stream);

}  // namespace ssehub::detail
