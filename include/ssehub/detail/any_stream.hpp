// Type erasure for the streams a hub serves, so the connection code is
// compiled once for TCP, TLS and anything else that is an Asio stream.
// Thread safety: Distinct objects: safe. Shared objects: unsafe (use the
// connection's strand).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/bind_allocator.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/socket_base.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <concepts>
#include <cstddef>
#include <memory>
#include <span>
#include <system_error>
#include <utility>

namespace ssehub {

// Any Asio stream with an executor: a tcp::socket, an ssl::stream, ...
template <class S>
concept async_stream = requires(S& s, asio::mutable_buffer mb, asio::const_buffer cb) {
    { s.get_executor() } -> std::convertible_to<asio::any_io_executor>;
    s.async_read_some(mb, asio::use_awaitable);
    s.async_write_some(cb, asio::use_awaitable);
};

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

class any_stream {
public:
    virtual ~any_stream() = default;
    virtual asio::any_io_executor get_executor() = 0;
    // Writes every buffer; ec set on failure.
    virtual asio::awaitable<void> write(std::span<const asio::const_buffer> bufs, std::error_code& ec) = 0;
    virtual asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf, std::error_code& ec) = 0;
    // Callback form of read_some: `done` runs on `ex` (the connection's strand).
    virtual void async_read_some(asio::mutable_buffer buf, const asio::any_io_executor& ex, read_callback done) = 0;
    // Graceful end: FIN after what was written, so the client sees the end of the stream.
    virtual void shutdown_send() = 0;
    virtual void close() = 0;
};

template <async_stream Stream>
class stream_adapter final : public any_stream {
public:
    explicit stream_adapter(Stream s) : s_(std::move(s)) {}

    asio::any_io_executor get_executor() override { return s_.get_executor(); }

    asio::awaitable<void> write(std::span<const asio::const_buffer> bufs, std::error_code& ec) override {
        co_await asio::async_write(s_, bufs, asio::redirect_error(asio::use_awaitable, ec));
    }

    asio::awaitable<std::size_t> read_some(asio::mutable_buffer buf, std::error_code& ec) override {
        co_return co_await s_.async_read_some(buf, asio::redirect_error(asio::use_awaitable, ec));
    }

    void async_read_some(asio::mutable_buffer buf, const asio::any_io_executor& ex, read_callback done) override {
        // A long-lived operation (an idle connection's EOF watch): allocated at
        // its exact size, not in one of Asio's recycled blocks.
        s_.async_read_some(buf, asio::bind_allocator(exact_allocator<void>(),
                                                     asio::bind_executor(ex, [d = std::move(done)](std::error_code ec,
                                                                                                  std::size_t n) mutable {
                                                         d.fn(d.owner, ec, n);
                                                     })));
    }

    void shutdown_send() override {
        std::error_code ec;
        if constexpr (requires { s_.lowest_layer().shutdown(asio::socket_base::shutdown_send, ec); })
            s_.lowest_layer().shutdown(asio::socket_base::shutdown_send, ec);
    }

    void close() override {
        std::error_code ec;
        if constexpr (requires { s_.lowest_layer().close(ec); })
            s_.lowest_layer().close(ec);
        else if constexpr (requires { s_.close(ec); })
            s_.close(ec);
    }

private:
    Stream s_;
};

}  // namespace detail
}  // namespace ssehub
