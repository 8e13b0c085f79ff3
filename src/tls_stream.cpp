// ssehub::tls_stream: the SSL object, its socket BIO, and one OpenSSL call
// per step of an operation (the waiting is in the header's composed op).
// g++ 12 reports Asio's awaitable frame delete as mismatched (the goodbye's
// coroutine): the false positive silenced in connection.cpp too.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "ssehub/tls_stream.hpp"

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL

#include <asio/error.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl/error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

namespace ssehub {
namespace {

// The BIO between OpenSSL and the socket: recv and send on the descriptor.
// Not OpenSSL's socket BIO: that one writes with write(2), which raises
// SIGPIPE when the peer has gone; send(MSG_NOSIGNAL) does not. Nothing is
// buffered, except during a handshake step: each record of a flight would
// otherwise be its own send (and, with Nagle, wait for the peer's ACK of the
// one before), so the step collects them and sends the flight at once
// (tls_stream::step), as asio::ssl::stream does; the buffer is released with
// the handshake.
int fd_of(BIO* b) { return static_cast<tls_stream::bio_state*>(BIO_get_data(b))->fd; }

bool retry_later(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

int bio_write(BIO* b, const char* data, std::size_t size, std::size_t* written) {
    BIO_clear_retry_flags(b);
    auto* st = static_cast<tls_stream::bio_state*>(BIO_get_data(b));
    if (st->hold) {
        st->out.append(data, size);
        *written = size;
        return 1;
    }
    const ssize_t r = ::send(fd_of(b), data, size, MSG_NOSIGNAL);
    if (r >= 0) {
        *written = static_cast<std::size_t>(r);
        return 1;
    }
    if (retry_later(errno)) BIO_set_retry_write(b);
    return 0;
}

int bio_read(BIO* b, char* data, std::size_t size, std::size_t* got) {
    BIO_clear_retry_flags(b);
    const ssize_t r = ::recv(fd_of(b), data, size, 0);
    if (r > 0) {
        *got = static_cast<std::size_t>(r);
        return 1;
    }
    if (r < 0 && retry_later(errno)) BIO_set_retry_read(b);
    return 0;  // r == 0: the peer's FIN (OpenSSL tells a clean end by its close_notify)
}

long bio_ctrl(BIO*, int cmd, long, void*) {
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // nothing buffered to flush; no other control applies
}

int bio_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

const BIO_METHOD* socket_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ssehub socket");
        if (m) {
            BIO_meth_set_write_ex(m, &bio_write);
            BIO_meth_set_read_ex(m, &bio_read);
            BIO_meth_set_ctrl(m, &bio_ctrl);
            BIO_meth_set_create(m, &bio_create);
        }
        return m;
    }();
    return method;
}

// What OpenSSL said about the failure just now (allocation, when nothing).
std::error_code openssl_failure() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e != 0) return {static_cast<int>(e), asio::error::get_ssl_category()};
    return asio::error::no_memory;
}

}  // namespace

tls_stream::tls_stream(asio::ip::tcp::socket socket, ssl_ctx_st* ctx) : socket_(std::move(socket)) {
    std::error_code ec;
    socket_.non_blocking(true, ec);
    if (ec) throw std::system_error(ec, "tls_stream: non-blocking socket");
    ERR_clear_error();
    ssl_ = SSL_new(ctx);
    BIO* bio = ssl_ && socket_method() ? BIO_new(socket_method()) : nullptr;
    if (!bio) {
        const auto failure = openssl_failure();
        SSL_free(ssl_);
        ssl_ = nullptr;
        throw std::system_error(failure, "tls_stream");
    }
    bio_ = std::make_unique<bio_state>();
    bio_->fd = socket_.native_handle();
    BIO_set_data(bio, bio_.get());
    SSL_set_bio(ssl_, bio, bio);  // one reference, both directions
    // No buffer kept while idle; SSL_write may return after each record and
    // be retried with the buffer at another address (Asio moves nothing, but
    // async_write's next call starts further on).
    SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

tls_stream::tls_stream(tls_stream&& other) noexcept
    : socket_(std::move(other.socket_)), ssl_(std::exchange(other.ssl_, nullptr)), bio_(std::move(other.bio_)) {}

tls_stream& tls_stream::operator=(tls_stream&& other) noexcept {
    if (this != &other) {
        SSL_free(ssl_);
        socket_ = std::move(other.socket_);
        ssl_ = std::exchange(other.ssl_, nullptr);
        bio_ = std::move(other.bio_);
    }
    return *this;
}

tls_stream::~tls_stream() { SSL_free(ssl_); }  // the socket closes after (a member)

bool tls_stream::has_pending() const noexcept { return ssl_ && SSL_has_pending(ssl_) == 1; }

void tls_stream::set_role(handshake_type type) {
    if (type == server) SSL_set_accept_state(ssl_);
    else SSL_set_connect_state(ssl_);
}

// Sends what a handshake step collected; false while the socket takes no
// more (then wait for it to be writable) or on an error (`ec`).
bool tls_stream::flush_held(std::error_code& ec) {
    std::string& out = bio_->out;
    while (!out.empty()) {
        const ssize_t r = ::send(bio_->fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (r < 0) {
            if (retry_later(errno)) return false;
            ec = {errno, std::system_category()};
            return false;
        }
        out.erase(0, static_cast<std::size_t>(r));
    }
    return true;
}

tls_stream::want tls_stream::step(op_kind kind, void* data, std::size_t size, std::size_t& n, std::error_code& ec) {
    n = 0;
    // Never reach OpenSSL once the socket is closed: its descriptor number
    // may already belong to another connection.
    if (!socket_.is_open() || !ssl_) {
        ec = asio::error::bad_descriptor;
        return want::nothing;
    }
    if ((kind == op_kind::read || kind == op_kind::write) && size == 0) return want::nothing;
    ERR_clear_error();
    errno = 0;
    int r = 0;
    switch (kind) {
    case op_kind::handshake:
        // A flight not yet all sent goes first; then one step, its records
        // collected and sent together.
        if (!flush_held(ec)) return ec ? want::nothing : want::write;
        bio_->hold = true;
        r = SSL_do_handshake(ssl_);
        bio_->hold = false;
        if (const int saved = errno; !flush_held(ec)) {
            if (ec) return want::nothing;
            return want::write;  // the rest when the socket takes it; the step is then called again
        } else {
            errno = saved;
        }
        if (r == 1) std::string().swap(bio_->out);  // done: no buffer while the stream lives
        break;
    case op_kind::read: r = SSL_read_ex(ssl_, data, size, &n); break;
    case op_kind::write: r = SSL_write_ex(ssl_, data, size, &n); break;
    case op_kind::shutdown:
        r = SSL_shutdown(ssl_);
        if (r == 0) r = 1;  // ours is sent; the peer's is not waited for
        break;
    }
    const int sys = errno;
    if (r == 1) return want::nothing;
    n = 0;
    switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ: return want::read;
    case SSL_ERROR_WANT_WRITE: return want::write;
    case SSL_ERROR_ZERO_RETURN: ec = asio::error::eof; break;  // the peer's close_notify
    case SSL_ERROR_SYSCALL:
        if (const unsigned long e = ERR_get_error(); e != 0) ec = {static_cast<int>(e), asio::error::get_ssl_category()};
        else if (sys != 0) ec = {sys, std::system_category()};
        else ec = asio::ssl::error::stream_truncated;  // a FIN without close_notify
        break;
    case SSL_ERROR_SSL: {
        const unsigned long e = ERR_peek_last_error();
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
        if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            ec = asio::ssl::error::stream_truncated;  // OpenSSL 3's name for the same
        else
#endif
        if (e != 0) ec = {static_cast<int>(e), asio::error::get_ssl_category()};
        else ec = asio::ssl::error::unexpected_result;
        break;
    }
    default: ec = asio::ssl::error::unexpected_result; break;
    }
    ERR_clear_error();
    return want::nothing;
}

asio::awaitable<void> stream_goodbye<tls_stream>::send(tls_stream& s, std::chrono::milliseconds timeout) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer deadline(co_await asio::this_coro::executor, timeout);
    std::error_code shutdown_ec, timer_ec;
    co_await (s.async_shutdown(asio::redirect_error(asio::use_awaitable, shutdown_ec)) ||
              deadline.async_wait(asio::redirect_error(asio::use_awaitable, timer_ec)));
}

}  // namespace ssehub

#endif  // SSEHUB_HAS_OPENSSL
