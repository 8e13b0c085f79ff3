// Type erasure for the streams a hub serves, so the connection code is
// compiled once for TCP, TLS and anything else that is an Asio stream.
// Thread safety: Distinct objects: safe. Shared objects: unsafe (use the
// connection's strand).
#pragma once

#include "ssehub/http.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/bind_allocator.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/socket_base.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <span>
#include <system_error>
#include <typeinfo>
#include <utility>
#include <vector>

namespace ssehub {

// Any Asio stream with an executor: a tcp::socket, an ssl::stream, ...
template <class S>
concept async_stream = requires(S& s, asio::mutable_buffer mb, asio::const_buffer cb) {
    { s.get_executor() } -> std::convertible_to<asio::any_io_executor>;
    s.async_read_some(mb, asio::use_awaitable);
    s.async_write_some(cb, asio::use_awaitable);
};

// How a stream type says goodbye before its FIN, beyond what a socket does:
// specialised for asio::ssl::stream in <ssehub/tls.hpp> (close_notify). A
// specialisation has `static asio::awaitable<void> send(Stream&,
// std::chrono::milliseconds timeout)` that never throws for I/O errors.
template <class Stream>
struct stream_goodbye {};

namespace detail {

// The completion of any_stream::async_read_some: calls fn(owner, ec, n).
// `owner` keeps whatever fn needs alive until then (no coroutine frame, no
// type-erased function object: the pending read is the only allocation).
struct read_callback {
    std::shared_ptr<void> owner;
    void (*fn)(std::shared_ptr<void>& owner, std::error_code ec, std::size_t n) = nullptr;
};

// Plain operator new/delete at the exact size. (Asio maps std::allocator to
// its per-thread recycling allocator, whose cached blocks are often bigger
// than what reuses them: fine for short operations, a waste for one that
// waits as long as an idle connection lives.)
template <class T>
struct exact_allocator {
    using value_type = T;
    exact_allocator() noexcept = default;
    template <class U>
    exact_allocator(const exact_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
    template <class U>
    bool operator==(const exact_allocator<U>&) const noexcept { return true; }
};

// ex's target when it is exactly a T, else null. (Asio 1.22's
// any_executor::target<T>() does not compare types here: asked for a strand,
// it returned the plain io_context executor it held, as a strand.)
template <class T>
const T* executor_target(const asio::any_io_executor& ex) noexcept {
    return ex && ex.target_type() == typeid(T) ? ex.target<T>() : nullptr;
}

class any_stream {
public:
    virtual ~any_stream() = default;
    virtual asio::any_io_executor get_executor() = 0;
    // Writes every buffer; ec set on failure.
    virtual asio::awaitable<void> write(std::span<const asio::const_buffer> bufs, std::error_code& ec) = 0;
    // Writes what the stream takes at once, without blocking or suspending;
    // returns how many bytes (0, ec unset: none now, or a stream with no such
    // path, e.g. asio::ssl::stream; ssehub::tls_stream has one). ec set on failure.
    virtual std::size_t try_write(std::span<const asio::const_buffer> bufs, std::error_code& ec) = 0;
    // try_write is a plain non-blocking write_some (a socket) that leaves no
    // state behind: what it did not take can be written later by anyone on
    // the stream's thread (a TLS stream's rest must follow at once).
    virtual bool plain_try_write() const noexcept { return false; }
    virtual asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf, std::error_code& ec) = 0;
    // Callback form of read_some: `done` runs on `ex` (the connection's strand).
    virtual void async_read_some(asio::mutable_buffer buf, const asio::any_io_executor& ex, read_callback done) = 0;
    // Graceful end: FIN after what was written, so the client sees the end of the stream.
    virtual void shutdown_send() = 0;
    // A stream that says goodbye before its FIN (TLS: close_notify), and the
    // goodbye itself, bounded by `timeout` (a client that reads nothing must
    // not hold the writer). Call goodbye() only when has_goodbye().
    virtual bool has_goodbye() const noexcept { return false; }
    virtual asio::awaitable<void> goodbye(std::chrono::milliseconds timeout) { (void)timeout; co_return; }
    virtual void close() = 0;
    // A stream that carries the response head itself (an HTTP/2 stream: a
    // HEADERS frame) rather than as HTTP/1.1 text before the body. Call
    // send_head() only when sends_head(); then write only the body.
    virtual bool sends_head() const noexcept { return false; }
    virtual void send_head(int status, const std::vector<http::header>& headers) {
        (void)status;
        (void)headers;
    }
};

template <async_stream Stream>
class stream_adapter final : public any_stream {
    static constexpr bool has_goodbye_v =
        requires(Stream& s, std::chrono::milliseconds t) { stream_goodbye<Stream>::send(s, t); };
    // Without the close_notify a TLS client sees a truncated stream (OpenSSL 3
    // clients report "unexpected eof"): serving an ssl::stream needs it.
    static_assert(has_goodbye_v || !requires(Stream& s) { s.async_shutdown(asio::use_awaitable); },
                  "include <ssehub/tls.hpp> to serve an asio::ssl::stream");

public:
    explicit stream_adapter(Stream s) : s_(std::move(s)) {
        if constexpr (has_try_write) {
            std::error_code ec;
            s_.non_blocking(true, ec);  // for try_write; Asio's asynchronous operations work either way
            nonblocking_ = !ec;
        }
    }

    asio::any_io_executor get_executor() override { return s_.get_executor(); }

    asio::awaitable<void> write(std::span<const asio::const_buffer> bufs, std::error_code& ec) override {
        co_await asio::async_write(s_, bufs, asio::redirect_error(asio::use_awaitable, ec));
    }

    std::size_t try_write(std::span<const asio::const_buffer> bufs, std::error_code& ec) override {
        if constexpr (has_try_write_some) {
            return s_.try_write_some(bufs, ec);
        } else if constexpr (has_try_write) {
            if (!nonblocking_) return 0;
            const std::size_t n = s_.write_some(bufs, ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
            return n;
        } else {
            (void)bufs;
            (void)ec;
            return 0;
        }
    }

    bool plain_try_write() const noexcept override {
        if constexpr (has_try_write && !has_try_write_some) return nonblocking_;
        else return false;
    }

    asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf, std::error_code& ec) override {
        co_return co_await s_.async_read_some(buf, asio::redirect_error(asio::use_awaitable, ec));
    }

    void async_read_some(asio::mutable_buffer buf, const asio::any_io_executor& ex, read_callback done) override {
        // The usual strand bound as its own type (24 bytes) rather than as an
        // any_io_executor (56), in the handler and in its work guard.
        if (const auto* strand = executor_target<asio::strand<asio::io_context::executor_type>>(ex))
            start_read(buf, *strand, std::move(done));
        else
            start_read(buf, ex, std::move(done));
    }

    void shutdown_send() override {
        std::error_code ec;
        if constexpr (requires { s_.lowest_layer().shutdown(asio::socket_base::shutdown_send, ec); })
            s_.lowest_layer().shutdown(asio::socket_base::shutdown_send, ec);
    }

    bool has_goodbye() const noexcept override { return has_goodbye_v; }

    asio::awaitable<void> goodbye(std::chrono::milliseconds timeout) override {
        if constexpr (has_goodbye_v) co_await stream_goodbye<Stream>::send(s_, timeout);
        else (void)timeout;
        co_return;
    }

    bool sends_head() const noexcept override { return has_send_head; }

    void send_head(int status, const std::vector<http::header>& headers) override {
        if constexpr (has_send_head) s_.send_head(status, headers);
        else {
            (void)status;
            (void)headers;
        }
    }

    void close() override {
        std::error_code ec;
        if constexpr (requires { s_.lowest_layer().close(ec); })
            s_.lowest_layer().close(ec);
        else if constexpr (requires { s_.close(ec); })
            s_.close(ec);
    }

private:
    static constexpr bool has_send_head = requires(Stream& s, const std::vector<http::header>& h) { s.send_head(200, h); };

    // A stream with its own non-blocking write attempt (ssehub::tls_stream).
    static constexpr bool has_try_write_some = requires(Stream& s, std::span<const asio::const_buffer> b, std::error_code& e) {
        { s.try_write_some(b, e) } -> std::convertible_to<std::size_t>;
    };
    // A stream that writes synchronously without blocking once in
    // non-blocking mode (a socket; not asio::ssl::stream, whose write_some would block).
    static constexpr bool has_try_write = requires(Stream& s, std::span<const asio::const_buffer> b, std::error_code& e) {
        s.non_blocking(true, e);
        { s.write_some(b, e) } -> std::convertible_to<std::size_t>;
    };

    template <class Executor>
    void start_read(asio::mutable_buffer buf, const Executor& ex, read_callback done) {
        // A long-lived operation (an idle connection's EOF watch): allocated at
        // its exact size, not in one of Asio's recycled blocks.
        s_.async_read_some(buf, asio::bind_allocator(exact_allocator<void>(),
                                                     asio::bind_executor(ex, [d = std::move(done)](std::error_code ec,
                                                                                                  std::size_t n) mutable {
                                                         d.fn(d.owner, ec, n);
                                                     })));
    }

    Stream s_;
    bool nonblocking_ = false;
};

}  // namespace detail
}  // namespace ssehub
