// One HTTP/2 request on a server session (ssehub::h2, <ssehub/h2/session.hpp>):
// an Asio stream for its response, so hub::async_serve and other code written
// for a socket serve it. The request arrives whole (head and body, both
// bounded by the session's server_config); the response head goes out with
// send_head() as a HEADERS frame, what is written after it as DATA frames
// (nghttp2 frames it and keeps the flow-control windows). A write completes
// once the stream's send buffer (server_config::stream_buffer) took the bytes:
// a client whose window stays shut fills it and the next write waits, as a
// socket's send buffer makes a write wait.
// Thread safety: Distinct objects: safe. Shared objects: unsafe. Every
// operation is carried out on its session's strand, so a stream may be used
// from any thread, one operation of a kind at a time (as a socket).
#pragma once

#include "ssehub/http.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/socket_base.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace ssehub::h2 {

namespace detail {

struct stream_state;

// A pending read or write, its handler erased (Asio 1.22 has no
// any_completion_handler). complete() posts the handler to its executor.
class io_op {
public:
    virtual ~io_op() = default;
    virtual void complete(std::error_code ec, std::size_t n) = 0;
    std::uint64_t serial = 0;  // which operation a cancellation names
};

template <class Handler>
class io_op_impl final : public io_op {
public:
    io_op_impl(Handler h, const asio::any_io_executor& io)
        : h_(std::move(h)),
          work_(asio::prefer(asio::get_associated_executor(h_, io), asio::execution::outstanding_work.tracked)) {}

    void complete(std::error_code ec, std::size_t n) override {
        auto ex = std::move(work_);
        // On the handler's executor: the cancellation slot is emitted there
        // too, so clearing it there does not race with an emit.
        asio::post(ex, [h = std::move(h_), ec, n]() mutable {
            asio::get_associated_cancellation_slot(h).clear();
            std::move(h)(ec, n);
        });
    }

private:
    Handler h_;
    asio::any_io_executor work_;
};

// session.cpp: each posts to the session's strand.
void start_read(const std::shared_ptr<stream_state>& s, std::unique_ptr<io_op> op);
void start_write(const std::shared_ptr<stream_state>& s, std::vector<asio::const_buffer> bufs, std::unique_ptr<io_op> op);
void cancel_op(const std::weak_ptr<stream_state>& s, bool write, std::uint64_t serial);
// On the session's strand only (else 0): takes what the send buffer has room for now.
std::size_t try_write(stream_state& s, std::span<const asio::const_buffer> bufs, std::error_code& ec);
std::uint64_t next_serial(stream_state& s) noexcept;
asio::any_io_executor io_executor(const stream_state& s) noexcept;

}  // namespace detail

class stream {
public:
    using executor_type = asio::any_io_executor;

    explicit stream(std::shared_ptr<detail::stream_state> s) noexcept : s_(std::move(s)) {}
    stream(stream&&) noexcept = default;
    stream& operator=(stream&& o) noexcept;
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    // Resets the stream (RST_STREAM CANCEL) unless its response ended.
    ~stream();

    // The session's strand (on the connection socket's I/O context): the
    // stream's own work runs there, and code that serves the stream from it
    // (the hub's connection uses it as its strand) writes without a hop.
    executor_type get_executor() const noexcept;

    // The HTTP/2 stream id (odd, from the client).
    std::int32_t id() const noexcept;
    // The request as an HTTP/1.1 head would give it: :method, :path (the
    // target), :authority as Host, then the header fields (lower-case names).
    // version_minor is 1; remote is the connection's peer.
    const http::request& request() const noexcept;
    // The whole request body (at most server_config::max_request_body bytes).
    std::string& body() noexcept;
    // Moves the request out and frees the rest of it, body included (take
    // the body first): request() and body() are empty after it, and a stream
    // that lives on as an event stream keeps no copy of its head.
    http::request take_request() noexcept;

    // The response head: :status and `headers` in one HEADERS frame (sent
    // once; a later call is ignored). Connection-specific fields (Connection,
    // Keep-Alive, Transfer-Encoding, Upgrade, Proxy-Connection), which HTTP/2
    // forbids, are left out; names go out in lower case.
    void send_head(int status, const std::vector<http::header>& headers);

    // Never gives data (the body is body()): completes when the stream ends
    // (the client's RST_STREAM: connection_reset; the connection closed:
    // eof; close(): operation_aborted). Cancellation: terminal/partial/total.
    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence&, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [](auto handler, std::shared_ptr<detail::stream_state> s) { initiate(std::move(handler), std::move(s), nullptr); },
            token, s_);
    }

    // Takes what the send buffer has room for (the head must have been sent);
    // waits while it is full. Errors: broken_pipe once the stream ended or
    // was reset, operation_aborted after close() or a cancellation.
    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
        std::vector<asio::const_buffer> bufs(asio::buffer_sequence_begin(buffers), asio::buffer_sequence_end(buffers));
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [](auto handler, std::shared_ptr<detail::stream_state> s, std::vector<asio::const_buffer> b) {
                initiate(std::move(handler), std::move(s), &b);
            },
            token, s_, std::move(bufs));
    }

    // Called on the stream's executor (the session's strand): takes at once
    // what the send buffer has room for, without waiting, and returns how
    // many bytes it took; 0 elsewhere, before the head went out, or while a
    // write is pending (async_write_some then reports the stream's state).
    template <class ConstBufferSequence>
    std::size_t try_write_some(const ConstBufferSequence& buffers, std::error_code& ec) {
        const std::span<const asio::const_buffer> bufs(asio::buffer_sequence_begin(buffers),
                                                       asio::buffer_sequence_end(buffers));
        return detail::try_write(*s_, bufs, ec);
    }

    // shutdown_send: END_STREAM after what was written (a graceful end).
    void shutdown(asio::socket_base::shutdown_type what, std::error_code& ec);
    // Ends the stream now: RST_STREAM (CANCEL) unless the response already
    // ended; pending operations complete with operation_aborted.
    void close(std::error_code& ec);
    // The connection's peer.
    asio::ip::tcp::endpoint remote_endpoint(std::error_code& ec) const;
    // The stream is its own lowest layer (what code written for sockets asks for).
    stream& lowest_layer() noexcept { return *this; }

private:
    template <class Handler>
    static void initiate(Handler handler, std::shared_ptr<detail::stream_state> s, std::vector<asio::const_buffer>* bufs) {
        // The slot points into the caller's cancellation signal, not into the handler.
        auto slot = asio::get_associated_cancellation_slot(handler);
        auto op = std::make_unique<detail::io_op_impl<Handler>>(std::move(handler), detail::io_executor(*s));
        op->serial = detail::next_serial(*s);
        if (slot.is_connected()) {
            slot.assign([w = std::weak_ptr<detail::stream_state>(s), write = bufs != nullptr,
                         serial = op->serial](asio::cancellation_type t) {
                if ((t & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                          asio::cancellation_type::total)) != asio::cancellation_type::none)
                    detail::cancel_op(w, write, serial);
            });
        }
        if (bufs) detail::start_write(s, std::move(*bufs), std::move(op));
        else detail::start_read(s, std::move(op));
    }
    std::shared_ptr<detail::stream_state> s_;
};

}  // namespace ssehub::h2
