// Test support: a tiny HTTP/1.1 backend on 127.0.0.1:0 (a connect proxy
// backend, a JWKS server) on its own thread. Each request is read whole
// (head and Content-Length body), recorded, and answered by `answer`, or held
// unanswered while `hold` is set until release(). It counts the requests in
// flight and the most it ever saw at once. No sleeps: tests poll its counters.
#pragma once

#include <asio.hpp>
#ifdef SSEHUB_TEST_TLS
#include <asio/ssl.hpp>
#endif

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace test {

// A port nothing listens on (bound, then closed): connecting is refused.
inline unsigned short closed_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = a.local_endpoint().port();
    a.close();
    return port;
}

#ifdef SSEHUB_TEST_TLS
// A TLS server context with this certificate and key (PEM text), for an
// https http_backend.
inline std::shared_ptr<asio::ssl::context> server_tls_context(const std::string& cert_pem, const std::string& key_pem) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->use_certificate_chain(asio::buffer(cert_pem));
    ctx->use_private_key(asio::buffer(key_pem), asio::ssl::context::pem);
    return ctx;
}
#endif

class http_backend {
public:
    // The request (head and body) → the whole response bytes.
    using answer_fn = std::function<std::string(const std::string& request)>;

    explicit http_backend(answer_fn answer) { start(std::move(answer)); }
#ifdef SSEHUB_TEST_TLS
    // The same over TLS (https://) with this context's certificate.
    http_backend(answer_fn answer, std::shared_ptr<asio::ssl::context> tls) : tls_(std::move(tls)) {
        start(std::move(answer));
    }
#endif
    ~http_backend() {
        ioc_.stop();
        thread_.join();
    }

    unsigned short port() const { return port_; }
    std::string url(std::string_view path = "/") const {
        return (https() ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_) + std::string(path);
    }

    // A response with this status and JSON body (Content-Length framing).
    static std::string json(std::string_view body, int status = 200) {
        return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + std::string(body);
    }
    // The same body in two chunks (chunked framing).
    static std::string chunked(std::string_view body) {
        const auto half = body.size() / 2;
        auto chunk = [](std::string_view part) {
            char size[32];
            std::snprintf(size, sizeof size, "%zx", part.size());
            return std::string(size) + "\r\n" + std::string(part) + "\r\n";
        };
        return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(body.substr(0, half)) +
               chunk(body.substr(half)) + "0\r\n\r\n";
    }

    void set_answer(answer_fn answer) {
        std::lock_guard lock(mu_);
        answer_ = std::move(answer);
    }
    void set_hold(bool hold) { hold_ = hold; }
    // Answers every held request (and every later one).
    void release() {
        asio::post(ioc_, [this] {
            released_ = true;
            release_.cancel();
        });
    }

    std::vector<std::string> requests() const {
        std::lock_guard lock(mu_);
        return requests_;
    }
    std::size_t request_count() const {
        std::lock_guard lock(mu_);
        return requests_.size();
    }
    int in_flight() const { return in_flight_.load(); }
    int max_in_flight() const { return max_in_flight_.load(); }

private:
    bool https() const {
#ifdef SSEHUB_TEST_TLS
        return tls_ != nullptr;
#else
        return false;
#endif
    }

    void start(answer_fn answer) {
        answer_ = std::move(answer);
        release_.expires_at(asio::steady_timer::time_point::max());
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto sock = co_await acceptor_.async_accept(asio::use_awaitable);
#ifdef SSEHUB_TEST_TLS
            if (tls_) {
                asio::co_spawn(ioc_, serve_tls(std::move(sock)), asio::detached);
                continue;
            }
#endif
            asio::co_spawn(ioc_, serve(std::move(sock)), asio::detached);
        }
    }

#ifdef SSEHUB_TEST_TLS
    asio::awaitable<void> serve_tls(asio::ip::tcp::socket sock) {
        asio::ssl::stream<asio::ip::tcp::socket> tls(std::move(sock), *tls_);
        std::error_code ec;
        co_await tls.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) co_await serve_stream(tls);
    }
#endif

    asio::awaitable<void> serve(asio::ip::tcp::socket sock) { co_await serve_stream(sock); }

    template <class Stream>
    asio::awaitable<void> serve_stream(Stream& sock) {
        std::string in;
        char buf[4096];
        std::error_code ec;
        std::size_t end = std::string::npos;
        std::size_t length = 0;
        for (;;) {
            if (end == std::string::npos) {
                end = in.find("\r\n\r\n");
                if (end != std::string::npos) {
                    std::string head = in.substr(0, end);
                    for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                    const auto k = head.find("content-length:");
                    if (k != std::string::npos) length = std::stoul(head.substr(k + 15));
                }
            }
            if (end != std::string::npos && in.size() >= end + 4 + length) break;
            const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            in.append(buf, n);
        }
        const int now = ++in_flight_;
        int seen = max_in_flight_.load();
        while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
        }
        answer_fn answer;
        {
            std::lock_guard lock(mu_);
            requests_.push_back(in);
            answer = answer_;
        }
        if (hold_.load()) {
            while (!released_) co_await release_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        const std::string out = answer(in);
        --in_flight_;
        co_await asio::async_write(sock, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
        if constexpr (std::is_same_v<Stream, asio::ip::tcp::socket>) sock.shutdown(asio::socket_base::shutdown_send, ec);
        else co_await sock.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));  // close_notify
        // Drain until the client closes, so the close is never a reset.
        while (!ec) co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    }

#ifdef SSEHUB_TEST_TLS
    std::shared_ptr<asio::ssl::context> tls_;
#endif
    asio::io_context ioc_;
    asio::ip::tcp::acceptor acceptor_{ioc_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    asio::steady_timer release_{ioc_};
    bool released_ = false;  // on the backend's thread
    std::atomic<bool> hold_{false};
    mutable std::mutex mu_;
    answer_fn answer_;
    std::vector<std::string> requests_;
    std::atomic<int> in_flight_{0};
    std::atomic<int> max_in_flight_{0};
    std::thread thread_;
    unsigned short port_ = 0;
};

}  // namespace test
