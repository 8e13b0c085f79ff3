// ssehubd over TLS: the context, its reload on SIGHUP, and the handshake
// before a connection's HTTP session (tls.hpp).
#include "tls.hpp"

// g++ 12 inlines Asio's coroutine frame allocation into tls_session() and
// then reports the class's own operator delete as mismatched: a false
// positive (as in routes.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "daemon.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <csignal>
#include <cstring>
#include <stdexcept>

namespace ssehubd {

namespace {

std::string openssl_error() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "unknown error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

// ALPN: h2 (when built with ssehub::h2) or http/1.1, in that order of
// preference; a client that offers only protocols we do not speak goes on
// without ALPN (HTTP/1.1).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
#ifdef SSEHUBD_HAS_H2
    // h2 first: SSL_select_next_proto picks by the server's order.
    static const unsigned char ours[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
#else
    static const unsigned char ours[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
#endif
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, outlen, ours, sizeof ours, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

std::shared_ptr<asio::ssl::context> load_context(const std::string& cert, const std::string& key) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::single_dh_use |
                     SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(native, cert.c_str()) != 1)
        throw std::runtime_error("--tls-cert " + cert + ": " + openssl_error());
    if (SSL_CTX_use_PrivateKey_file(native, key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("--tls-key " + key + ": " + openssl_error());
    if (SSL_CTX_check_private_key(native) != 1)
        throw std::runtime_error("--tls-key " + key + " does not match --tls-cert " + cert);
    SSL_CTX_set_alpn_select_cb(native, &select_alpn, nullptr);
    return ctx;
}

}  // namespace

tls_server::tls_server(const options& opts, logger& log, asio::any_io_executor ex)
    : opts_(opts), log_(log), hup_(std::move(ex)), ctx_(load_context(opts.tls_cert, opts.tls_key)) {}

std::shared_ptr<asio::ssl::context> tls_server::context() const {
    std::lock_guard lock(mu_);
    return ctx_;
}

bool tls_server::reload() {
    try {
        auto fresh = load_context(opts_.tls_cert, opts_.tls_key);
        {
            // Open connections keep the context they started with (OpenSSL
            // counts its references); only new handshakes see this one.
            std::lock_guard lock(mu_);
            ctx_ = std::move(fresh);
        }
        log_.info("tls_reloaded", {{"cert", opts_.tls_cert}, {"certificate", describe()}});
        return true;
    } catch (const std::exception& e) {
        log_.warn("tls_reload_failed", {{"error", e.what()}, {"kept", describe()}});
        return false;
    }
}

std::string tls_server::describe() const {
    const auto ctx = context();
    X509* x = SSL_CTX_get0_certificate(ctx->native_handle());
    if (!x) return "none";
    std::string out = "serial=";
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr)) {
        if (char* hex = BN_bn2hex(bn)) {
            out += hex;
            OPENSSL_free(hex);
        }
        BN_free(bn);
    }
    char subject[256];
    X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
    return out + " subject=" + subject;
}

void tls_server::start() {
    std::error_code ec;
    hup_.add(SIGHUP, ec);
    if (ec) {
        log_.warn("tls_sighup_unavailable", {{"error", ec.message()}});
        return;
    }
    wait_signal();
}

void tls_server::stop() {
    std::error_code ec;
    hup_.cancel(ec);
    hup_.clear(ec);
}

void tls_server::wait_signal() {
    hup_.async_wait([this](std::error_code ec, int) {
        if (ec) return;
        reload();
        wait_signal();
    });
}

asio::awaitable<void> daemon::tls_session(asio::ip::tcp::socket sock) {
    using namespace asio::experimental::awaitable_operators;
    // The SSL object references the context: a reload (SIGHUP) swaps ours
    // and leaves this connection's alone.
    tls_stream stream(std::move(sock), tls_->context()->native_handle());
    asio::steady_timer deadline(co_await asio::this_coro::executor, opts_.tls_handshake_timeout);
    std::error_code ec, timer_ec;
    const auto r =
        co_await (stream.async_handshake(tls_stream::server, asio::redirect_error(asio::use_awaitable, ec)) ||
                  deadline.async_wait(asio::redirect_error(asio::use_awaitable, timer_ec)));
    if (r.index() == 1 || ec) {
        // A client that never finishes its handshake (TLS slowloris), plain
        // HTTP on the TLS port, a protocol or certificate mismatch: counted,
        // closed, nothing answered.
        const bool timeout = r.index() == 1;
        (timeout ? counters_.tls_handshake_timeouts : counters_.tls_handshake_failures).fetch_add(1);
        if (log_.enabled(log_level::debug)) {
            std::error_code ignored;
            const auto ep = stream.next_layer().remote_endpoint(ignored);
            log_.debug("tls_handshake_failed", {{"remote", ep.address().to_string() + ":" + std::to_string(ep.port())},
                                                {"error", timeout ? "timeout" : ec.message()}});
        }
        std::error_code ignored;
        stream.next_layer().close(ignored);
        co_return;
    }
#ifdef SSEHUBD_HAS_H2
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(stream.native_handle(), &alpn, &alpn_len);
    if (alpn_len == 2 && alpn[0] == 'h' && alpn[1] == '2') {
        co_await h2_session(std::move(stream));
        co_return;
    }
#endif
    co_await session(std::move(stream));
}

}  // namespace ssehubd
