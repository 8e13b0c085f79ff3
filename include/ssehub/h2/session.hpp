// ssehub::h2: an HTTP/2 server session (RFC 9113, through nghttp2: framing,
// HPACK, flow control) over a TCP socket or a TLS stream, serving
// many requests on one connection. Each request becomes an h2::stream
// (<ssehub/h2/stream.hpp>) handed to the session's handler: an event stream
// goes to hub.async_serve like a socket (its own hub connection, writer and
// bounded queue; its flow-control window is its backpressure), anything else
// is answered on it.
//
//   auto s = ssehub::h2::session::create(socket.get_executor(), cfg,
//       [&hub](ssehub::h2::stream st) { ... hub.async_serve(std::move(st), req, opts, handler); });
//   co_await ssehub::h2::serve_connection(std::move(socket), s);   // TLS: after the handshake (ALPN "h2")
//
// Thread safety: session::shutdown() and the counters from any thread; the
// rest runs on the session's strand.
#pragma once

#include "ssehub/detail/any_stream.hpp"
#include "ssehub/h2/stream.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

struct nghttp2_session;

namespace ssehub::h2 {

struct server_config {
    // SETTINGS_MAX_CONCURRENT_STREAMS: streams open at once on one connection
    // (nghttp2 refuses more with RST_STREAM REFUSED_STREAM).
    std::uint32_t max_concurrent_streams = 100;
    // SETTINGS_MAX_HEADER_LIST_SIZE, enforced: a request whose header list
    // (names + values + 32 per field, RFC 9113 6.5.2) is larger gets 431.
    std::uint32_t max_header_list_size = 16384;
    // A request body larger than this gets 413.
    std::size_t max_request_body = 1 << 20;
    // Per stream: response bytes written but not yet sent (the client's
    // window was shut); a write waits while it is full.
    std::size_t stream_buffer = 64 * 1024;
    // Rapid reset (CVE-2023-44487): RST_STREAM frames from the client, a
    // token bucket of `rapid_reset_burst` refilled at `rapid_reset_rate` per
    // second; when it runs dry the connection gets GOAWAY (ENHANCE_YOUR_CALM)
    // and closes.
    std::uint64_t rapid_reset_burst = 1000;
    std::uint64_t rapid_reset_rate = 33;
    // A request whose head and body have not all arrived this long after its
    // stream opened gets 408 (a slowloris on one stream). 0: never.
    std::chrono::milliseconds request_timeout{10000};
    // A connection with no open stream for this long gets GOAWAY and closes
    // (also one that never sends its preface). 0: never.
    std::chrono::milliseconds idle_timeout{60000};
};

namespace detail {
struct stream_state;
}

class session : public std::enable_shared_from_this<session> {
public:
    // Called on the session's strand for each request once its head and body
    // arrived; must not block. An exception resets that stream.
    using handler = std::function<void(stream)>;

    // `io`: the connection socket's executor; the session makes a strand on it.
    // `remote`: the peer (stream::remote_endpoint, http::request::remote).
    static std::shared_ptr<session> create(const asio::any_io_executor& io, server_config cfg,
                                           asio::ip::tcp::endpoint remote, handler on_stream);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // GOAWAY (NO_ERROR): no new streams; the connection closes once the open
    // ones end. From any thread.
    void shutdown();

    const asio::any_io_executor& get_executor() const noexcept { return strand_; }
    const server_config& config() const noexcept { return cfg_; }

    // Streams opened (requests handed to the handler or answered by the
    // session itself) since the start; any thread.
    std::uint64_t streams_opened() const noexcept { return opened_.load(std::memory_order_relaxed); }
    // Streams open now.
    std::uint64_t streams_open() const noexcept { return open_.load(std::memory_order_relaxed); }

    // ---- the connection's I/O loop (serve_connection), on the strand ----
    // Hands the bytes the client sent to nghttp2; false when the session is
    // over (a protocol error: a GOAWAY is queued, then nothing more is read).
    bool receive(std::span<const char> bytes);
    // Appends frames waiting to be sent to `out`, up to about `max` bytes.
    void take_output(std::string& out, std::size_t max);
    // False once nothing more will be read or written: close the connection.
    bool alive() const;
    // The transport ended (EOF, error): every stream ends.
    void transport_closed();
    // transport_closed() was not called yet.
    bool alive_transport() const;
    // Wakes the writer (new output).
    void notify();
    asio::steady_timer& wake_timer() noexcept { return wake_; }
    asio::steady_timer& idle_timer() noexcept { return idle_; }
    // The idle timer fired: an idle connection's GOAWAY, or 408 for requests
    // not received within request_timeout; then re-armed.
    void on_idle_timer();

private:
    friend struct detail::stream_state;
    friend struct callbacks;
    session(const asio::any_io_executor& io, server_config cfg, asio::ip::tcp::endpoint remote, handler on_stream);
    void start();
    void arm_idle();
    void arm_timer();

public:  // for the nghttp2 callbacks and the streams (session.cpp), on the strand
    struct impl;
    const asio::any_io_executor& io_executor() const noexcept { return io_; }
    void dispatch(const std::shared_ptr<detail::stream_state>& st);
    void respond(detail::stream_state& st, int status, std::string body);
    void send_head(detail::stream_state& st, int status, const std::vector<http::header>& headers);
    void resume(detail::stream_state& st);
    void reset(detail::stream_state& st, std::uint32_t error_code);

private:
    asio::any_io_executor io_;
    asio::any_io_executor strand_;
    server_config cfg_;
    asio::ip::tcp::endpoint remote_;
    handler on_stream_;
    nghttp2_session* ng_ = nullptr;
    std::unique_ptr<impl> impl_;
    asio::steady_timer wake_;
    asio::steady_timer idle_;
    std::atomic<std::uint64_t> opened_{0};
    std::atomic<std::uint64_t> open_{0};
};

namespace detail {

template <class Socket>
auto& tcp_socket_of(Socket& s) {
    if constexpr (requires { s.next_layer(); }) return s.next_layer();
    else return s;
}

template <class Socket>
asio::awaitable<void> read_loop(Socket& socket, std::shared_ptr<session> s) {
    std::array<char, 8192> buf;
    for (bool discard = false;;) {
        std::error_code ec;
        const std::size_t n = co_await socket.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            s->transport_closed();
            co_return;
        }
        // Once the session is over (GOAWAY), what still comes is read and
        // dropped until the writer's linger ends: closing with unread bytes
        // would reset the connection and lose the GOAWAY on its way.
        if (!discard) {
            discard = !s->receive(std::span<const char>(buf.data(), n));
            s->notify();
        }
    }
}

// Writes what the socket takes now, without waiting: a TLS stream's own
// try_write_some (ssehub::tls_stream), a TCP socket in non-blocking mode;
// 0 for other streams (asio::ssl::stream), which are written asynchronously.
template <class Socket>
std::size_t write_now(Socket& socket, const std::string& out, std::error_code& ec) {
    ec = {};
    if constexpr (requires { socket.try_write_some(asio::buffer(out), ec); }) {
        return socket.try_write_some(asio::buffer(out), ec);
    } else if constexpr (std::is_same_v<Socket, asio::ip::tcp::socket>) {
        if (!socket.non_blocking()) return 0;  // (write_some would block)
        const std::size_t n = socket.write_some(asio::buffer(out), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
        return ec ? 0 : n;
    } else {
        return 0;
    }
}

template <class Socket>
asio::awaitable<void> write_loop(Socket& socket, std::shared_ptr<session> s) {
    std::string out;
    if constexpr (std::is_same_v<Socket, asio::ip::tcp::socket>) {
        std::error_code ec;
        socket.non_blocking(true, ec);  // for write_now; if it fails, every write waits
    }
    for (;;) {
        out.clear();
        s->take_output(out, 64 * 1024);
        if (out.empty()) {
            if (!s->alive()) break;
            s->wake_timer().expires_at(asio::steady_timer::time_point::max());
            std::error_code ec;
            co_await s->wake_timer().async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        std::error_code ec;
        const std::size_t now = write_now(socket, out, ec);
        if (!ec && now < out.size())
            co_await asio::async_write(socket, asio::buffer(out.data() + now, out.size() - now),
                                       asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            s->transport_closed();
            break;
        }
    }
    // TLS: close_notify before the FIN (bounded), when <ssehub/tls.hpp> is included.
    if constexpr (requires(std::chrono::milliseconds t) { ssehub::stream_goodbye<Socket>::send(socket, t); })
        co_await ssehub::stream_goodbye<Socket>::send(socket, std::chrono::milliseconds(2000));
    std::error_code ec;
    tcp_socket_of(socket).shutdown(asio::socket_base::shutdown_send, ec);
    // Linger (bounded) until the client closes too, then end the reader.
    if (s->alive_transport()) {
        s->wake_timer().expires_after(std::chrono::seconds(1));
        std::error_code wait_ec;
        co_await s->wake_timer().async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
    }
    tcp_socket_of(socket).cancel(ec);
    s->idle_timer().cancel();
}

inline asio::awaitable<void> idle_loop(std::shared_ptr<session> s) {
    for (;;) {
        std::error_code ec;
        co_await s->idle_timer().async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!s->alive()) co_return;
        s->on_idle_timer();
    }
}

template <class Socket>
asio::awaitable<void> run_connection(Socket socket, std::shared_ptr<session> s) {
    using namespace asio::experimental::awaitable_operators;
    // Named awaitables: g++ 12 miscompiles temporaries inside co_await expressions.
    auto reader = read_loop(socket, s);
    auto writer = write_loop(socket, s);
    auto idle = idle_loop(s);
    co_await (std::move(reader) && std::move(writer) && std::move(idle));
    s->transport_closed();
    std::error_code ec;
    tcp_socket_of(socket).close(ec);
}

}  // namespace detail

// Serves the session over `socket` (a tcp::socket, or a TLS stream after its
// handshake; an asio::ssl::stream needs <ssehub/tls.hpp> for a clean TLS end)
// until the connection closes. Completes on the caller's executor.
template <class Socket>
asio::awaitable<void> serve_connection(Socket socket, std::shared_ptr<session> s) {
    auto run = detail::run_connection(std::move(socket), s);
    co_await asio::co_spawn(s->get_executor(), std::move(run), asio::use_awaitable);
}

}  // namespace ssehub::h2
