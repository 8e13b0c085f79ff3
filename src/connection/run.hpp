// Private: how a serve call starts a connection's coroutine (connection.cpp).
#pragma once

#include "hub/shard.hpp"

#include "ssehub/http.hpp"
#include "ssehub/serve.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

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
};

// The connection body, on the connection's strand: the caller's when it
// already runs on a strand of the stream's context, else a new one.
// R: void (async_serve without options) or boxed_outcome.
template <class R>
asio::awaitable<R> run_connection(std::shared_ptr<shard> home, std::unique_ptr<any_stream> stream,
                                  std::unique_ptr<serve_args> args);
extern template asio::awaitable<void> run_connection<void>(std::shared_ptr<shard>, std::unique_ptr<any_stream>,
                                                           std::unique_ptr<serve_args>);
extern template asio::awaitable<boxed_outcome> run_connection<boxed_outcome>(std::shared_ptr<shard>,
                                                                             std::unique_ptr<any_stream>,
                                                                             std::unique_ptr<serve_args>);

// A strand of its own for a connection on `stream`.
asio::any_io_executor make_connection_strand(any_stream& stream);

}  // namespace ssehub::detail
