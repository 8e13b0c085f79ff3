// Serving event streams over TLS: what hub::async_serve needs to end an
// asio::ssl::stream cleanly. Include it wherever a hub serves an
// ssl::stream (<ssehub/detail/any_stream.hpp> refuses to compile one
// without it). Needs OpenSSL (libssl) in the program that includes it; the
// ssehub library itself does not.
//
//   asio::ssl::stream<asio::ip::tcp::socket> tls(std::move(socket), ctx);
//   co_await tls.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
//   co_await hub.async_serve(std::move(tls));
//
// The handshake (and its deadline) is the caller's, as accepting is.
// Thread safety: as for the stream (one strand).
#pragma once

#include "ssehub/detail/any_stream.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <system_error>

namespace ssehub {

// The close_notify alert before the FIN, so the client sees a clean end of
// the stream rather than a truncation. Sent as if the client's own
// close_notify had already come: SSL_shutdown then completes once ours is
// written, without reading (the connection's reader may be waiting in a
// read on the same stream). Bounded by `timeout`: a client that reads
// nothing cannot hold the writer.
template <class NextLayer>
struct stream_goodbye<asio::ssl::stream<NextLayer>> {
    static asio::awaitable<void> send(asio::ssl::stream<NextLayer>& s, std::chrono::milliseconds timeout) {
        using namespace asio::experimental::awaitable_operators;
        SSL* ssl = s.native_handle();
        ::SSL_set_shutdown(ssl, ::SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
        asio::steady_timer deadline(co_await asio::this_coro::executor, timeout);
        std::error_code shutdown_ec, timer_ec;
        co_await (s.async_shutdown(asio::redirect_error(asio::use_awaitable, shutdown_ec)) ||
                  deadline.async_wait(asio::redirect_error(asio::use_awaitable, timer_ec)));
    }
};

}  // namespace ssehub
