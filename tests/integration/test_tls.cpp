// Loopback tests over TLS: the hub serving asio::ssl::stream<tcp::socket>
// and ssehub::tls_stream, each test over both (a throwaway self-signed
// certificate made in-process), and a blocking TLS client that reads with
// deadlines.
#ifdef SSEHUB_TEST_TLS

#include "support/harness.hpp"
#include "support/tls_cert.hpp"
#include "support/tls_client.hpp"

#include <ssehub/replayer.hpp>
#include <ssehub/tls.hpp>
#include <ssehub/tls_stream.hpp>

#include <asio/ssl.hpp>

#include <catch2/catch.hpp>

using namespace std::chrono_literals;

namespace {

using test::tls_client;

// The TLS streams the hub is tested over: Asio's and ssehub's own.
struct asio_ssl_stream {
    using stream = asio::ssl::stream<asio::ip::tcp::socket>;
    static stream make(asio::ip::tcp::socket s, asio::ssl::context& ctx) { return stream(std::move(s), ctx); }
    static constexpr auto server = asio::ssl::stream_base::server;
};
struct ssehub_tls_stream {
    using stream = ssehub::tls_stream;
    static stream make(asio::ip::tcp::socket s, asio::ssl::context& ctx) { return stream(std::move(s), ctx.native_handle()); }
    static constexpr auto server = ssehub::tls_stream::server;
};

// A hub behind a TLS acceptor on 127.0.0.1:0: handshake, then
// async_serve(stream) with options; outcomes recorded.
template <class Tls>
class tls_server {
public:
    explicit tls_server(ssehub::hub_config cfg = {})
        : ctx_(asio::ssl::context::tls_server),
          acceptor_(ioc_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        const auto id = test::make_self_signed(1, "ssehub-test");
        ctx_.set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        ctx_.use_certificate_chain(asio::buffer(id.cert_pem));
        ctx_.use_private_key(asio::buffer(id.key_pem), asio::ssl::context::pem);
        hub_.emplace(ioc_.get_executor(), std::move(cfg));
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~tls_server() { stop(); }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        asio::co_spawn(ioc_, shutdown(), asio::use_future).wait_for(30s);
        ioc_.stop();
        thread_.join();
        hub_.reset();
    }

    ssehub::hub& hub() { return *hub_; }
    unsigned short port() const { return port_; }
    ssehub::publish_result publish_sync(ssehub::event ev) {
        return asio::co_spawn(ioc_, hub_->async_publish(std::move(ev)), asio::use_future).get();
    }
    bool wait_active(std::size_t n) {
        return test::poll_until([&] { return hub_->stats().active_connections == n; });
    }
    std::vector<ssehub::serve_outcome> outcomes() const {
        std::lock_guard lock(mu_);
        return outcomes_;
    }
    bool wait_outcomes(std::size_t n) const {
        return test::poll_until([&] { return outcomes().size() >= n; });
    }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            std::error_code ec;
            auto sock = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            asio::co_spawn(ioc_, serve(Tls::make(std::move(sock), ctx_)), asio::detached);
        }
    }

    asio::awaitable<void> serve(typename Tls::stream s) {
        std::error_code ec;
        co_await s.async_handshake(Tls::server, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        // A completion handler, as ssehubd does (the stream outlives this frame).
        hub_->async_serve(std::move(s), ssehub::serve_options(), [this](std::exception_ptr, ssehub::serve_outcome o) {
            std::lock_guard lock(mu_);
            outcomes_.push_back(std::move(o));
        });
    }

    asio::awaitable<void> shutdown() {
        std::error_code ec;
        acceptor_.close(ec);
        co_await hub_->async_shutdown(2s);
    }

    asio::io_context ioc_;
    asio::ssl::context ctx_;
    asio::ip::tcp::acceptor acceptor_;
    std::optional<ssehub::hub> hub_;
    std::thread thread_;
    mutable std::mutex mu_;
    std::vector<ssehub::serve_outcome> outcomes_;
    unsigned short port_ = 0;
    bool stopped_ = false;
};

ssehub::hub_config replaying_config() {
    ssehub::hub_config cfg;
    cfg.replayer = ssehub::memory_replayer(ssehub::memory_replayer_config{});
    return cfg;
}

// Opens a stream on `target` and waits until it is connected and registered.
template <class Tls>
bool subscribe(tls_server<Tls>& s, tls_client& c, std::string_view target) {
    c.get(s.port(), target);
    return c.wait_events(1) && s.wait_active(1);
}

}  // namespace

TEMPLATE_TEST_CASE("tls: a stream receives the connected event and a published one", "[tls][loopback]",
                   asio_ssl_stream, ssehub_tls_stream) {
    tls_server<TestType> s;
    tls_client c;
    c.get(s.port(), "/events?topics=orders");
    REQUIRE(c.wait_events(1));
    CHECK(c.status() == 200);
    CHECK(c.events[0].type == "connected");
    REQUIRE(s.wait_active(1));
    CHECK(s.publish_sync(test::event_on({"orders"}, "over tls")).matched == 1);
    REQUIRE(c.wait_events(2));
    CHECK(c.events[1].data == "over tls");
}

TEMPLATE_TEST_CASE("tls: Last-Event-ID replay", "[tls][replay][loopback]", asio_ssl_stream, ssehub_tls_stream) {
    tls_server<TestType> s(replaying_config());
    std::string last;
    {
        tls_client first;
        REQUIRE(subscribe(s, first, "/events?topics=orders"));
        s.publish_sync(test::event_on({"orders"}, "X"));
        REQUIRE(first.wait_events(2));
        last = first.events[1].id;
        first.close();
    }
    REQUIRE(s.wait_active(0));
    s.publish_sync(test::event_on({"orders"}, "E1"));
    s.publish_sync(test::event_on({"orders"}, "E2"));
    tls_client again;
    again.get(s.port(), "/events?topics=orders", "Last-Event-ID: " + last + "\r\n");
    REQUIRE(again.wait_events(3));
    CHECK(again.events[1].data == "E1");
    CHECK(again.events[2].data == "E2");
    REQUIRE(s.wait_active(1));
    s.publish_sync(test::event_on({"orders"}, "live"));
    REQUIRE(again.wait_events(4));
    CHECK(again.events[3].data == "live");
}

TEMPLATE_TEST_CASE("tls: the client closes: the outcome says client_left", "[tls][loopback]",
                   asio_ssl_stream, ssehub_tls_stream) {
    tls_server<TestType> s;
    {
        tls_client c;
        REQUIRE(subscribe(s, c, "/events?topics=a"));
        c.close();  // TCP close without close_notify, as a browser tab that goes away
    }
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcomes()[0].reason == ssehub::serve_reason::client_left);
    CHECK(s.outcomes()[0].status == 200);
    CHECK(s.wait_active(0));
}

TEMPLATE_TEST_CASE("tls: hub shutdown sends server-shutdown, then close_notify and the end", "[tls][loopback]",
                   asio_ssl_stream, ssehub_tls_stream) {
    tls_server<TestType> s;
    tls_client c;
    REQUIRE(subscribe(s, c, "/events?topics=a"));
    s.hub().publish(test::event_on({"a"}, "last words"));
    s.stop();  // the hub's shutdown, then the loop stops; what it wrote waits in the client's socket
    REQUIRE(c.wait_closed());
    REQUIRE(c.events.size() == 3);
    CHECK(c.events[1].data == "last words");
    CHECK(c.events[2].type == "server-shutdown");
    CHECK(c.end() == asio::error::eof);  // a clean TLS end (close_notify), not stream_truncated
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcomes()[0].reason == ssehub::serve_reason::shutdown);
}

TEMPLATE_TEST_CASE("tls: a refusal is answered over TLS and ends cleanly", "[tls][loopback]",
                   asio_ssl_stream, ssehub_tls_stream) {
    tls_server<TestType> s;
    tls_client c;
    c.get(s.port(), "/events");  // no topics: 400
    REQUIRE(c.wait_closed());
    CHECK(c.status() == 400);
    CHECK(c.end() == asio::error::eof);
}

#endif  // SSEHUB_TEST_TLS
