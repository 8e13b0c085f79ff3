// Test support: a hub behind a real TCP acceptor on 127.0.0.1:0, and a
// blocking SSE client that reads with deadlines (no sleeps anywhere).
#pragma once

#include <ssehub/hub.hpp>
#include <ssehub/sse_parser.hpp>

#include <asio.hpp>

#include <poll.h>

#include <cctype>
#include <chrono>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace test {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// An event on these topics with this data and type (the other fields default).
inline ssehub::event event_on(std::vector<std::string> topics, std::string data, std::string type = "") {
    ssehub::event e;
    e.topics = std::move(topics);
    e.data = std::move(data);
    e.type = std::move(type);
    return e;
}

// Polls pred until it holds or the deadline passes. Returns the last result.
inline bool poll_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = clock::now() + timeout;
    while (!pred()) {
        if (clock::now() >= deadline) return pred();
        std::this_thread::yield();
    }
    return true;
}

// With `make_options`, each stream is served through the serve contract
// (async_serve with those options and a completion token) and its outcome
// recorded; without, through the plain `async_serve(socket)`.
class server {
public:
    using options_factory = std::function<ssehub::serve_options()>;

    explicit server(ssehub::hub_config cfg = {}, int threads = 1, options_factory make_options = {})
        : acceptor_(ioc_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
          make_options_(std::move(make_options)) {
        hub_.emplace(ioc_.get_executor(), std::move(cfg));
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(ioc_, accept_loop(), [](std::exception_ptr) {});
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }

    ~server() { stop(); }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        auto done = asio::co_spawn(ioc_, shutdown(), asio::use_future);
        done.wait_for(30s);
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_) t.join();
        hub_.reset();
    }

    ssehub::hub& hub() { return *hub_; }
    unsigned short port() const { return port_; }
    asio::io_context& context() { return ioc_; }

    // Publishes and waits until routed; returns the matched count.
    ssehub::publish_result publish_sync(ssehub::event ev) {
        return asio::co_spawn(ioc_, hub_->async_publish(std::move(ev)), asio::use_future).get();
    }

    // Starts the hub's shutdown without stopping the io_context.
    void begin_shutdown() { asio::co_spawn(ioc_, shutdown(), asio::detached); }

    // The serve contract's outcomes (with make_options), in completion order.
    std::size_t outcome_count() const {
        std::lock_guard lock(mu_);
        return outcomes_.size();
    }
    ssehub::serve_outcome outcome(std::size_t i) const {
        std::lock_guard lock(mu_);
        return outcomes_.at(i);
    }
    bool wait_outcomes(std::size_t n) const {
        return poll_until([&] { return outcome_count() >= n; });
    }

    // Connections accepted so far, and how many of their async_serve ended.
    std::size_t accepted() const {
        std::lock_guard lock(mu_);
        return conns_.size();
    }
    std::size_t finished() const { return finished_.load(); }

    // Called from any thread: cancels the n-th accepted connection's
    // async_serve (terminal), on that connection's strand.
    void cancel(std::size_t n) {
        std::shared_ptr<conn> c;
        {
            std::lock_guard lock(mu_);
            c = conns_.at(n);
        }
        if (!c) return;  // already ended
        asio::post(c->strand, [c] { c->signal.emit(asio::cancellation_type::terminal); });
    }

private:
    // Each accepted socket is served on its own strand, with a cancellation
    // slot whose signal is only ever emitted on that strand.
    struct conn {
        explicit conn(asio::strand<asio::io_context::executor_type> s) : strand(std::move(s)) {}
        asio::strand<asio::io_context::executor_type> strand;
        asio::cancellation_signal signal;
    };

    asio::awaitable<void> accept_loop() {
        for (;;) {
            std::error_code ec;
            auto sock = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            auto c = std::make_shared<conn>(asio::make_strand(ioc_));
            std::size_t n = 0;
            {
                std::lock_guard lock(mu_);
                n = conns_.size();
                conns_.push_back(c);
            }
            if (make_options_) {
                // The stream runs on a strand of its own; the signal is
                // emitted on c->strand: safe with one thread (as the tests
                // that cancel use).
                hub_->async_serve(std::move(sock), make_options_(),
                                  asio::bind_cancellation_slot(
                                      c->signal.slot(), [this, n, c](std::exception_ptr e, ssehub::serve_outcome o) {
                                          if (e) o.status = -1;  // (no Catch2 assertion off the test's thread)
                                          {
                                              std::lock_guard lock(mu_);
                                              outcomes_.push_back(std::move(o));
                                              conns_[n].reset();
                                          }
                                          finished_.fetch_add(1);
                                      }));
                continue;
            }
            asio::co_spawn(c->strand, hub_->async_serve(std::move(sock)),
                           asio::bind_cancellation_slot(c->signal.slot(), [this, n, c](std::exception_ptr e) {
                               {
                                   std::lock_guard lock(mu_);
                                   conns_[n].reset();  // no state kept per ended connection
                               }
                               finished_.fetch_add(1);
                               if (e) std::rethrow_exception(e);
                           }));
        }
    }

    asio::awaitable<void> shutdown() {
        std::error_code ec;
        acceptor_.close(ec);
        co_await hub_->async_shutdown(2s);
    }

    asio::io_context ioc_;
    // Keeps run() going after a test's own shutdown, so stop()'s runs too.
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
    asio::ip::tcp::acceptor acceptor_;
    options_factory make_options_;
    std::optional<ssehub::hub> hub_;
    std::vector<std::thread> threads_;
    mutable std::mutex mu_;
    std::vector<std::shared_ptr<conn>> conns_;
    std::vector<ssehub::serve_outcome> outcomes_;
    std::atomic<std::size_t> finished_{0};
    unsigned short port_ = 0;
    bool stopped_ = false;
};

// A blocking client over a real socket. Reads only within read_until/closed.
class client {
public:
    // All clients share one io_context that never runs: their I/O is blocking.
    client() : sock_(shared_io()) {}

    static asio::io_context& shared_io() {
        static asio::io_context io;
        return io;
    }

    void connect(unsigned short port) {
        sock_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    }

    void send(std::string_view bytes) { asio::write(sock_, asio::buffer(bytes)); }

    void get(unsigned short port, std::string_view target, std::string_view extra_headers = "") {
        connect(port);
        std::string req = "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        req += extra_headers;
        req += "\r\n";
        send(req);
    }

    // Reads until pred() holds, EOF, or the deadline. Returns pred().
    bool read_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
        const auto deadline = clock::now() + timeout;
        while (!pred()) {
            if (eof_) return pred();
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            if (left.count() <= 0) return pred();
            pollfd p{sock_.native_handle(), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            read_available();
        }
        return true;
    }

    bool wait_events(std::size_t n, std::chrono::milliseconds timeout = 10s) {
        return read_until([&] { return events.size() >= n; }, timeout);
    }

    bool wait_closed(std::chrono::milliseconds timeout = 10s) {
        return read_until([&] { return eof_; }, timeout);
    }

    // A whole non-stream answer: its head and Content-Length bytes of body
    // (the server may keep the connection open), or EOF.
    bool wait_response(std::chrono::milliseconds timeout = 10s) {
        return read_until([&] { return eof_ || response_complete(); }, timeout);
    }
    bool response_complete() const {
        if (!head_done_) return false;
        // 1xx, 204 and 304 have no body (RFC 9112 6.3): complete at the head,
        // not at the EOF a kept-alive connection sends only at its idle timeout.
        const int code = status();
        if (code == 204 || code == 304 || (code >= 100 && code < 200)) return true;
        std::string lower = head();
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        const auto k = lower.find("\r\ncontent-length:");
        if (k == std::string::npos) return false;
        const std::size_t length = std::stoul(lower.substr(k + 17));
        return raw.size() - head_end_ >= length;
    }

    bool head_done() const { return head_done_; }
    int status() const {
        if (raw.size() < 12) return 0;
        return std::stoi(raw.substr(9, 3));
    }
    std::string head() const { return raw.substr(0, head_end_); }
    std::string body() const { return head_done_ ? raw.substr(head_end_) : std::string(); }
    bool eof() const { return eof_; }
    void close() {
        std::error_code ec;
        sock_.close(ec);
    }

    std::string raw;
    std::vector<ssehub::parsed_event> events;
    ssehub::sse_parser parser{ssehub::sse_parser::options{true}};

private:
    void read_available() {
        char buf[65536];
        std::error_code ec;
        const std::size_t n = sock_.read_some(asio::buffer(buf), ec);
        if (ec) {
            eof_ = true;
            return;
        }
        const std::size_t before = raw.size();
        raw.append(buf, n);
        std::size_t start = before;
        if (!head_done_) {
            const auto pos = raw.find("\r\n\r\n");
            if (pos == std::string::npos) return;
            head_done_ = true;
            head_end_ = pos + 4;
            start = head_end_;
            if (status() != 200) return;
        } else if (status() != 200) {
            return;
        }
        parser.feed(std::string_view(raw).substr(start));
        for (auto& e : parser.drain()) events.push_back(std::move(e));
    }

    asio::ip::tcp::socket sock_;
    bool head_done_ = false;
    std::size_t head_end_ = 0;
    bool eof_ = false;
};

// Connects `rounds` times in a row, each time with the Last-Event-ID of the
// last event seen, reads at least `per_round` events after `connected`, and
// returns the data of every event in arrival order; nullopt when a round
// timed out or got a `resync` (something was lost).
inline std::optional<std::vector<std::string>> reconnect_rounds(unsigned short port, std::string_view target,
                                                                int rounds, std::size_t per_round) {
    std::vector<std::string> seen;
    std::string last;
    for (int round = 0; round < rounds; ++round) {
        client c;
        c.get(port, target, last.empty() ? "" : "Last-Event-ID: " + last + "\r\n");
        if (!c.wait_events(1 + per_round)) return std::nullopt;
        for (std::size_t i = 1; i < c.events.size(); ++i) {
            if (c.events[i].type == "resync") return std::nullopt;
            seen.push_back(c.events[i].data);
            last = c.events[i].id;
        }
        c.close();
    }
    return seen;
}

// Polls until the hub counts exactly n active connections.
inline bool wait_active(ssehub::hub& h, std::size_t n) {
    return poll_until([&] { return h.stats(false).active_connections == n; });
}
inline bool wait_active(server& s, std::size_t n) { return wait_active(s.hub(), n); }

// The connection id from a client's first event (`connected`,
// {"connection_id":"…",…}), or "" when it has none.
inline std::string connection_id(const client& c) {
    if (c.events.empty()) return {};
    const std::string& data = c.events.front().data;
    const auto pos = data.find("\"connection_id\":\"");
    return pos == std::string::npos ? std::string() : data.substr(pos + 17, 32);
}

}  // namespace test
