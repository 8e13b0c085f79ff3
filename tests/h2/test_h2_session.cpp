// ssehub::h2 as a library: a hub serves the event streams of HTTP/2 sessions
// on a loopback socket (cleartext, prior knowledge); a client on nghttp2's
// API opens several streams on one connection. Every wait has a deadline.
#include "support/h2_client.hpp"
#include "support/harness.hpp"

#include <ssehub/h2/session.hpp>
#include <ssehub/hub.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

// A hub and an h2c listener: /events goes to the hub, /hello is answered by
// the handler, anything else gets 404.
class h2_server {
public:
    explicit h2_server(ssehub::hub_config cfg)
        : acceptor_(ioc_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        hub_.emplace(ioc_.get_executor(), std::move(cfg));
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~h2_server() {
        asio::co_spawn(ioc_, hub_->async_shutdown(std::chrono::milliseconds(2000)), asio::use_future).wait_for(30s);
        asio::post(ioc_, [this] {
            std::error_code ec;
            acceptor_.close(ec);
        });
        ioc_.stop();
        thread_.join();
        hub_.reset();
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    void publish(std::string topic, std::string data) {
        asio::co_spawn(ioc_, hub_->async_publish(test::event_on({std::move(topic)}, std::move(data))), asio::use_future)
            .get();
    }
    // GOAWAY on every session.
    void shutdown_sessions() {
        std::lock_guard lock(mu_);
        for (auto& w : sessions_)
            if (auto s = w.lock()) s->shutdown();
    }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto sock = co_await acceptor_.async_accept(asio::use_awaitable);
            const auto peer = sock.remote_endpoint();
            auto session = ssehub::h2::session::create(sock.get_executor(), {}, peer, [this](ssehub::h2::stream st) {
                if (st.request().path() == "/events") {
                    ssehub::http::request req = st.request();
                    ssehub::serve_options opts;
                    hub_->async_serve(std::move(st), std::move(req), std::move(opts),
                                      [](std::exception_ptr, ssehub::serve_outcome) {});
                    return;
                }
                const bool hello = st.request().path() == "/hello";
                const int status = hello ? 200 : 404;
                auto body = std::make_shared<std::string>(hello ? "hi" : "not found");
                st.send_head(status, ssehub::http::response_fields(status, "text/plain", body->size()));
                auto s = std::make_shared<ssehub::h2::stream>(std::move(st));
                s->async_write_some(asio::buffer(*body), [s, body](std::error_code, std::size_t) {
                    std::error_code ec;
                    s->shutdown(asio::socket_base::shutdown_send, ec);
                });
            });
            {
                std::lock_guard lock(mu_);
                sessions_.push_back(session);
            }
            asio::co_spawn(ioc_, ssehub::h2::serve_connection(std::move(sock), session), asio::detached);
        }
    }

    asio::io_context ioc_;
    asio::ip::tcp::acceptor acceptor_;
    std::optional<ssehub::hub> hub_;
    std::thread thread_;
    std::mutex mu_;
    std::vector<std::weak_ptr<ssehub::h2::session>> sessions_;
};

bool has(test::h2_client& c, std::int32_t id, std::string_view needle) {
    return c.stream(id).data.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("h2: event streams and a plain request on one connection; a stream whose window stays shut is dropped, "
          "its sibling keeps receiving; GOAWAY on shutdown",
          "[h2]") {
    ssehub::hub_config cfg;
    cfg.write_timeout = 200ms;
    cfg.send_queue = 8;
    h2_server server(cfg);
    test::h2_client c(server.port(), 4096);
    const auto a = c.request("GET", "/events?topics=t");
    const auto b = c.request("GET", "/events?topics=t");
    const auto stalled = c.request("GET", "/events?topics=t", {}, /*consume=*/false);
    const auto hello = c.request("GET", "/hello");
    const auto missing = c.request("GET", "/nope");
    REQUIRE(c.pump_until([&] {
        return has(c, a, "event: connected") && has(c, b, "event: connected") && c.stream(stalled).status == 200 &&
               c.stream(hello).closed && c.stream(missing).closed;
    }));
    CHECK(c.stream(hello).status == 200);
    CHECK(c.stream(hello).data == "hi");
    CHECK(c.stream(missing).status == 404);

    server.publish("t", "first");
    REQUIRE(c.pump_until([&] { return has(c, a, "data: first") && has(c, b, "data: first"); }));

    // Far more than the stalled stream's window and send buffer (64 KiB).
    const std::string big(8000, 'x');
    for (int i = 0; i < 16; ++i) server.publish("t", big);
    REQUIRE(c.pump_until([&] { return c.stream(stalled).closed; }));
    CHECK(c.stream(stalled).error == NGHTTP2_CANCEL);
    server.publish("t", "after");
    REQUIRE(c.pump_until([&] { return has(c, a, "data: after") && has(c, b, "data: after"); }));

    // One stream reset by the client: the other goes on.
    c.reset(b);
    REQUIRE(c.pump_until([&] { return c.stream(b).closed; }));
    server.publish("t", "last");
    REQUIRE(c.pump_until([&] { return has(c, a, "data: last"); }));
    CHECK(!c.goaway);

    server.shutdown_sessions();
    REQUIRE(c.pump_until([&] { return c.goaway; }));
    CHECK(c.goaway_error == NGHTTP2_NO_ERROR);
    CHECK(!c.stream(a).closed);  // GOAWAY (NO_ERROR) lets open streams finish
}

TEST_CASE("h2: a stream's executor is its session's strand; there try_write_some takes bytes without waiting",
          "[h2]") {
    asio::io_context ioc;
    asio::ip::tcp::acceptor acceptor(ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::promise<std::shared_ptr<ssehub::h2::stream>> opened;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto sock = co_await acceptor.async_accept(asio::use_awaitable);
            const auto peer = sock.remote_endpoint();
            auto session = ssehub::h2::session::create(sock.get_executor(), {}, peer, [&](ssehub::h2::stream st) {
                opened.set_value(std::make_shared<ssehub::h2::stream>(std::move(st)));
            });
            co_await ssehub::h2::serve_connection(std::move(sock), session);
        },
        asio::detached);
    std::thread io([&] { ioc.run(); });
    test::h2_client c(acceptor.local_endpoint().port(), 65535);
    const auto id = c.request("GET", "/x");
    auto got = opened.get_future();
    REQUIRE(c.pump_until([&] { return got.wait_for(0s) == std::future_status::ready; }));
    auto st = got.get();
    // Called on the strand: 0 before the head went out, then the bytes.
    auto on_strand = [&](std::function<std::size_t()> f) {
        std::promise<std::size_t> done;
        asio::post(st->get_executor(), [&] { done.set_value(f()); });
        return done.get_future().get();
    };
    const std::string text = "hello";
    std::error_code ec;
    CHECK(on_strand([&] { return st->try_write_some(asio::buffer(text), ec); }) == 0);
    st->send_head(200, ssehub::http::response_fields(200, "text/plain", 10));
    CHECK(on_strand([&] { return st->try_write_some(asio::buffer(text), ec); }) == 5);
    CHECK(!ec);
    CHECK(st->try_write_some(asio::buffer(text), ec) == 0);  // not on the strand: never
    REQUIRE(c.pump_until([&] { return c.stream(id).data == "hello"; }));
    CHECK(on_strand([&] { return st->try_write_some(asio::buffer(text), ec); }) == 5);
    on_strand([&] {
        std::error_code e;
        st->shutdown(asio::socket_base::shutdown_send, e);
        return std::size_t{0};
    });
    REQUIRE(c.pump_until([&] { return c.stream(id).closed; }));
    CHECK(c.stream(id).data == "hellohello");
    st.reset();
    ioc.stop();
    io.join();
}
