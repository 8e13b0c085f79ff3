// A TLS stream over a TCP socket with no buffers of its own: OpenSSL's SSL
// object reads and writes the socket itself, and each operation waits for
// the socket with async_wait when OpenSSL wants to read or write. With
// SSL_MODE_RELEASE_BUFFERS an idle connection holds little more than the SSL
// object (asio::ssl::stream keeps four 17 KiB buffers per connection:
// docs/tls-and-http2.md, "Memory").
//
//   ssehub::tls_stream tls(std::move(socket), ctx.native_handle());   // an SSL_CTX*
//   co_await tls.async_handshake(ssehub::tls_stream::server, asio::use_awaitable);
//   co_await hub.async_serve(std::move(tls));
//
// The operations are those of asio::ssl::stream (async_handshake,
// async_read_some, async_write_some, async_shutdown; any completion token),
// with the socket's executor and its cancellation: a cancelled operation, or
// one pending when the socket is cancelled or closed, completes with
// operation_aborted. Errors: asio::error::eof after the peer's close_notify,
// asio::ssl::error::stream_truncated when the connection ended without it,
// OpenSSL's codes in asio::error::get_ssl_category() otherwise.
// async_shutdown sends our close_notify and completes without waiting for
// the peer's (a server closes right after). One read and one write may be
// pending at once, as on a socket; a write cancelled half-way leaves the
// stream unusable for writing (OpenSSL wants the same bytes again).
// Needs a library built with OpenSSL (SSEHUB_HAS_OPENSSL); the header itself
// does not include OpenSSL's.
// Thread safety: Distinct objects: safe. Shared objects: unsafe (one strand).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/compose.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <cstddef>
#include <system_error>
#include <type_traits>
#include <utility>

struct ssl_st;      // OpenSSL's SSL
struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace ssehub {

template <class Stream>
struct stream_goodbye;  // <ssehub/detail/any_stream.hpp>

class tls_stream {
public:
    enum handshake_type { client, server };
    using executor_type = asio::ip::tcp::socket::executor_type;
    using next_layer_type = asio::ip::tcp::socket;
    using lowest_layer_type = asio::ip::tcp::socket;
    using native_handle_type = ssl_st*;

    // Takes a connected socket (put in non-blocking mode) and makes an SSL
    // object from `ctx`, which it references on its own: the caller may
    // replace its context (a certificate reload) while this stream lives.
    // Throws std::system_error when OpenSSL cannot.
    tls_stream(asio::ip::tcp::socket socket, ssl_ctx_st* ctx);
    tls_stream(tls_stream&& other) noexcept;
    tls_stream& operator=(tls_stream&& other) noexcept;
    tls_stream(const tls_stream&) = delete;
    tls_stream& operator=(const tls_stream&) = delete;
    ~tls_stream();

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    next_layer_type& next_layer() noexcept { return socket_; }
    lowest_layer_type& lowest_layer() noexcept { return socket_; }
    native_handle_type native_handle() noexcept { return ssl_; }

    // Bytes OpenSSL already took from the socket and has not handed out (the
    // next request may be there while the socket has nothing more to read).
    bool has_pending() const noexcept;

    // Completes with void(std::error_code).
    template <class Token>
    auto async_handshake(handshake_type type, Token&& token) {
        set_role(type);
        return start<void(std::error_code)>(op_kind::handshake, nullptr, 0, std::forward<Token>(token));
    }

    // Reads into the first non-empty buffer; void(std::error_code, std::size_t).
    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
        const asio::mutable_buffer b = first_of<asio::mutable_buffer>(buffers);
        return start<void(std::error_code, std::size_t)>(op_kind::read, b.data(), b.size(), std::forward<Token>(token));
    }

    // Writes from the first non-empty buffer (as asio::ssl::stream does);
    // void(std::error_code, std::size_t).
    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
        const asio::const_buffer b = first_of<asio::const_buffer>(buffers);
        return start<void(std::error_code, std::size_t)>(op_kind::write, const_cast<void*>(b.data()), b.size(),
                                                         std::forward<Token>(token));
    }

    // Writes what the socket takes now, without waiting: one SSL_write per
    // buffer in turn, until one is not taken whole. Returns the bytes taken;
    // 0 with `ec` unset when nothing can go now. An asynchronous write must
    // then continue from exactly there (OpenSSL may hold the rest of a record
    // it began). The hub's writer tries this first, as it does a socket's
    // write_some, so a delivery the socket takes at once needs no operation.
    template <class ConstBufferSequence>
    std::size_t try_write_some(const ConstBufferSequence& buffers, std::error_code& ec) {
        std::size_t total = 0;
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
            const asio::const_buffer b(*it);
            if (b.size() == 0) continue;
            std::size_t n = 0;
            const want w = step(op_kind::write, const_cast<void*>(b.data()), b.size(), n, ec);
            total += n;
            if (ec || w != want::nothing || n < b.size()) break;
        }
        return total;
    }

    // Sends close_notify; void(std::error_code).
    template <class Token>
    auto async_shutdown(Token&& token) {
        return start<void(std::error_code)>(op_kind::shutdown, nullptr, 0, std::forward<Token>(token));
    }

private:
    enum class op_kind { handshake, read, write, shutdown };
    enum class want { nothing, read, write };

    // One OpenSSL call of an operation (tls_stream.cpp): what it waits for
    // before the next call, or nothing (done; `ec` set on failure, `n` the
    // bytes read or written).
    want step(op_kind kind, void* data, std::size_t size, std::size_t& n, std::error_code& ec);
    void set_role(handshake_type type);

    template <class Buffer, class Sequence>
    static Buffer first_of(const Sequence& buffers) {
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it)
            if (Buffer b(*it); b.size() != 0) return b;
        return Buffer();
    }

    // The composed operation: an OpenSSL call, then a wait on the socket for
    // as long as OpenSSL wants one. A result on the first call is posted, not
    // delivered inside the initiating function.
    template <class Signature>
    struct op {
        tls_stream* stream;
        op_kind kind;
        void* data;
        std::size_t size;
        bool started = false;
        bool posted = false;
        std::error_code result;
        std::size_t n = 0;

        template <class Self>
        void operator()(Self& self, std::error_code ec = {}) {
            if (!posted) {
                if (!ec && self.get_cancellation_state().cancelled() != asio::cancellation_type::none) ec = asio::error::operation_aborted;
                const want w = ec ? want::nothing : stream->step(kind, data, size, n, ec);
                if (w != want::nothing) {
                    started = true;
                    stream->socket_.async_wait(
                        w == want::read ? asio::socket_base::wait_read : asio::socket_base::wait_write, std::move(self));
                    return;
                }
                result = ec;
                if (!started) {
                    started = posted = true;
                    asio::post(std::move(self));
                    return;
                }
            }
            if constexpr (std::is_same_v<Signature, void(std::error_code)>) self.complete(result);
            else self.complete(result, n);
        }
    };

    template <class Signature, class Token>
    auto start(op_kind kind, void* data, std::size_t size, Token&& token) {
        return asio::async_compose<Token, Signature>(op<Signature>{this, kind, data, size, false, false, {}, 0}, token, socket_);
    }

    asio::ip::tcp::socket socket_;
    ssl_st* ssl_ = nullptr;

public:
    // What the BIO sees (tls_stream.cpp): the descriptor, and a handshake
    // step's records while `hold`.
    struct bio_state {
        int fd = -1;
        bool hold = false;
        std::string out;
    };

private:
    bool flush_held(std::error_code& ec);
    std::unique_ptr<bio_state> bio_;
};

// What hub::async_serve sends before the FIN: close_notify, bounded by
// `timeout` (a client that reads nothing cannot hold the writer), so the
// client sees a clean end rather than a truncation. Never throws for I/O.
template <>
struct stream_goodbye<tls_stream> {
    static asio::awaitable<void> send(tls_stream& s, std::chrono::milliseconds timeout);
};

}  // namespace ssehub
