// The serve contract over real sockets: async_serve(stream, serve_options,
// token) with extra headers, a context for the hooks, default topics and an
// outcome; hub::disconnect; the logger; http::async_read_request.
#include "support/harness.hpp"

#include <ssehub/http_read.hpp>
#include <ssehub/serve.hpp>

#include <catch2/catch.hpp>

#include <any>
#include <future>
#include <mutex>

using namespace std::chrono_literals;
using test::client;
using test::server;

namespace {

using test::connection_id;

// test::server with an options factory serves every socket with the serve
// contract (async_serve with options and a token), outcomes recorded in order.
ssehub::serve_options plain_options() { return {}; }

ssehub::serve_options cors_options() {
    ssehub::serve_options o;
    o.headers.push_back({"Access-Control-Allow-Origin", "https://app.example"});
    o.headers.push_back({"Vary", "Origin"});
    return o;
}

}  // namespace

TEST_CASE("serve options: extra headers in the stream head and in error answers", "[serve]") {
    server s({}, 1, cors_options);
    {
        client c;
        c.get(s.port(), "/events?topics=a");
        REQUIRE(c.wait_events(1));
        CHECK(c.status() == 200);
        CHECK(c.head().find("\r\nAccess-Control-Allow-Origin: https://app.example\r\nVary: Origin\r\n") !=
              std::string::npos);
        CHECK(c.head().find("Content-Type: text/event-stream\r\n") != std::string::npos);
    }
    {
        client c;
        c.get(s.port(), "/events");  // no topics: 400
        REQUIRE(c.wait_closed());
        CHECK(c.status() == 400);
        CHECK(c.head().find("\r\nAccess-Control-Allow-Origin: https://app.example\r\n") != std::string::npos);
    }
    {
        client c;
        c.connect(s.port());
        c.send("POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        REQUIRE(c.wait_closed());
        CHECK(c.status() == 405);
        CHECK(c.head().find("\r\nAllow: GET\r\n") != std::string::npos);
        CHECK(c.head().find("\r\nVary: Origin\r\n") != std::string::npos);
    }
    {
        client c;
        c.connect(s.port());
        c.send("GET /events HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n");  // malformed: 400
        REQUIRE(c.wait_closed());
        CHECK(c.status() == 400);
        CHECK(c.head().find("\r\nAccess-Control-Allow-Origin: https://app.example\r\n") != std::string::npos);
    }
    // The stream (its client gone at the end of its block) and the three refusals.
    REQUIRE(s.wait_outcomes(4));
    std::size_t rejected = 0;
    for (std::size_t i = 0; i < 4; ++i) rejected += s.outcome(i).reason == ssehub::serve_reason::rejected;
    CHECK(rejected == 3);
}

TEST_CASE("serve options: a header that would forge the response is refused with 500", "[serve]") {
    server s({}, 1, [] {
        ssehub::serve_options o;
        o.headers.push_back({"X-Bad", "a\r\nSet-Cookie: x=1"});
        return o;
    });
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_closed());
    CHECK(c.status() == 500);
    CHECK(c.raw.find("Set-Cookie") == std::string::npos);
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcome(0).reason == ssehub::serve_reason::rejected);
    CHECK(s.outcome(0).status == 500);
}

TEST_CASE("serve options: the context reaches on_connect and on_disconnect", "[serve]") {
    std::mutex mu;
    std::string seen_connect_user, seen_connect_remote, seen_disconnect_user;
    ssehub::hub_config cfg;
    cfg.on_connect = [&](const ssehub::http::request&, ssehub::connection& c) -> std::optional<ssehub::rejection> {
        std::lock_guard lock(mu);
        if (const auto* u = std::any_cast<std::string>(&c.context().user)) seen_connect_user = *u;
        seen_connect_remote = c.context().remote;
        c.set_topics({"a"});
        return std::nullopt;
    };
    cfg.on_disconnect = [&](const ssehub::connection& c) {
        std::lock_guard lock(mu);
        if (const auto* u = std::any_cast<std::string>(&c.context().user)) seen_disconnect_user = *u;
    };
    server s(cfg, 1, [] {
        ssehub::serve_options o;
        o.context.user = std::string("session-7");
        return o;
    });
    client c;
    c.get(s.port(), "/events");
    REQUIRE(c.wait_events(1));
    {
        std::lock_guard lock(mu);
        CHECK(seen_connect_user == "session-7");
        CHECK(seen_connect_remote.rfind("127.0.0.1:", 0) == 0);  // filled from the socket
    }
    c.close();
    REQUIRE(s.wait_outcomes(1));
    std::lock_guard lock(mu);
    CHECK(seen_disconnect_user == "session-7");
}

TEST_CASE("serve options: default topics", "[serve]") {
    SECTION("used when the request names none") {
        server s({}, 1, [] {
            ssehub::serve_options o;
            o.default_topics = {"news"};
            return o;
        });
        client c;
        c.get(s.port(), "/events");
        REQUIRE(c.wait_events(1));
        CHECK(c.events[0].data.find("\"topics\":[\"news\"]") != std::string::npos);
        REQUIRE(test::poll_until([&] { return s.hub().stats().active_connections == 1; }));
        s.hub().publish(test::event_on({"news"}, "hello"));
        REQUIRE(c.wait_events(2));
        CHECK(c.events[1].data == "hello");
    }
    SECTION("replaced by the request's topics") {
        server s({}, 1, [] {
            ssehub::serve_options o;
            o.default_topics = {"news"};
            return o;
        });
        client c;
        c.get(s.port(), "/events?topics=sport");
        REQUIRE(c.wait_events(1));
        CHECK(c.events[0].data.find("\"topics\":[\"sport\"]") != std::string::npos);
    }
    SECTION("seen by on_connect, which may add to them") {
        ssehub::hub_config cfg;
        cfg.on_connect = [](const ssehub::http::request&, ssehub::connection& c) -> std::optional<ssehub::rejection> {
            if (c.topics() != std::vector<std::string>{"news"}) return ssehub::rejection{409, "no defaults"};
            c.add_topic("extra");
            return std::nullopt;
        };
        server s(cfg, 1, [] {
            ssehub::serve_options o;
            o.default_topics = {"news"};
            return o;
        });
        client c;
        c.get(s.port(), "/events");
        REQUIRE(c.wait_events(1));
        CHECK(c.events[0].data.find("\"topics\":[\"news\",\"extra\"]") != std::string::npos);
    }
}

TEST_CASE("serve outcome: client_left; on_open runs once the stream starts", "[serve]") {
    auto opened = std::make_shared<std::atomic<int>>(0);
    auto opened_id = std::make_shared<std::string>();
    server s({}, 1, [opened, opened_id] {
        ssehub::serve_options o;
        o.on_open = [opened, opened_id](const ssehub::connection& c) {
            *opened_id = c.id();  // before the head is written: the client reads it after this
            opened->fetch_add(1);
        };
        return o;
    });
    {
        client refused;
        refused.get(s.port(), "/events");  // no topics: on_open is not called
        REQUIRE(refused.wait_closed());
    }
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_events(1));
    const std::string id = connection_id(c);
    CHECK(opened->load() == 1);
    REQUIRE(s.wait_outcomes(1));  // the refusal
    c.close();
    REQUIRE(s.wait_outcomes(2));
    CHECK(*opened_id == id);  // (read after the outcome: ordered by the server's mutex)
    REQUIRE(s.outcome(0).reason == ssehub::serve_reason::rejected);
    CHECK(s.outcome(1).reason == ssehub::serve_reason::client_left);
    CHECK(s.outcome(1).status == 200);
    CHECK(s.outcome(1).connection_id == id);
}

TEST_CASE("serve outcome: lifetime", "[serve]") {
    ssehub::hub_config cfg;
    cfg.max_lifetime = 50ms;
    cfg.lifetime_jitter = 0;
    server s(cfg, 1, plain_options);
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_events(1));
    REQUIRE(c.wait_closed());
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcome(0).reason == ssehub::serve_reason::lifetime);
    CHECK(s.outcome(0).status == 200);
}

TEST_CASE("serve outcome: shutdown", "[serve]") {
    server s({}, 1, plain_options);
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_events(1));
    REQUIRE(test::poll_until([&] { return s.hub().stats().active_connections == 1; }));
    s.begin_shutdown();
    REQUIRE(c.wait_closed());
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcome(0).reason == ssehub::serve_reason::shutdown);
}

TEST_CASE("serve outcome: disconnected by hub::disconnect, with a final event", "[serve]") {
    server s({}, 1, plain_options);
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_events(1));
    const std::string id = connection_id(c);
    REQUIRE(test::poll_until([&] { return s.hub().stats().active_connections == 1; }));
    CHECK_FALSE(s.hub().disconnect("00000000000000000000000000000000", "unknown"));
    REQUIRE(s.hub().disconnect(id, "kicked \"out\""));
    REQUIRE(c.wait_events(2));
    CHECK(c.events[1].type == "disconnect");
    CHECK(c.events[1].data == R"({"reason":"kicked \"out\""})");
    REQUIRE(c.wait_closed());
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcome(0).reason == ssehub::serve_reason::disconnected);
    CHECK(s.outcome(0).status == 200);
    CHECK(s.outcome(0).connection_id == id);
    CHECK_FALSE(s.hub().disconnect(id, "again"));  // gone
}

TEST_CASE("serve outcome: cancelling async_serve ends the stream as disconnected", "[serve]") {
    server s({}, 1, plain_options);
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_events(1));
    REQUIRE(test::poll_until([&] { return s.hub().stats().active_connections == 1; }));
    s.cancel(0);
    REQUIRE(c.wait_closed());
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcome(0).reason == ssehub::serve_reason::disconnected);
    CHECK(test::poll_until([&] { return s.hub().stats().active_connections == 0; }));
}

TEST_CASE("serve outcome: rejected with the status on_connect chose", "[serve]") {
    ssehub::hub_config cfg;
    cfg.on_connect = [](const ssehub::http::request&, ssehub::connection&) -> std::optional<ssehub::rejection> {
        return ssehub::rejection{429, "slow down"};
    };
    server s(cfg, 1, cors_options);
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_closed());
    CHECK(c.status() == 429);
    CHECK(c.head().find("\r\nAccess-Control-Allow-Origin: https://app.example\r\n") != std::string::npos);
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcome(0).reason == ssehub::serve_reason::rejected);
    CHECK(s.outcome(0).status == 429);
    CHECK(s.outcome(0).connection_id.size() == 32);
}

TEST_CASE("serve outcome: auth_failed", "[serve]") {
    ssehub::hub_config cfg;
    cfg.authenticate = [](const ssehub::http::request&) -> asio::awaitable<ssehub::auth_outcome> {
        ssehub::auth_outcome a;
        a.status = 401;
        a.log_reason = "no token";
        co_return a;
    };
    server s(cfg, 1, plain_options);
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_closed());
    CHECK(c.status() == 401);
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcome(0).reason == ssehub::serve_reason::auth_failed);
    CHECK(s.outcome(0).status == 401);
    CHECK(s.outcome(0).detail == "no token");
}

TEST_CASE("serve outcome: a client that leaves before a whole head", "[serve]") {
    server s({}, 1, plain_options);
    client c;
    c.connect(s.port());
    c.send("GET /events?top");
    c.close();
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcome(0).reason == ssehub::serve_reason::client_left);
    CHECK(s.outcome(0).status == 0);
    CHECK(s.outcome(0).connection_id.empty());
}

TEST_CASE("serve: co_await async_serve with use_awaitable returns the outcome", "[serve]") {
    asio::io_context ioc;
    asio::ip::tcp::acceptor acceptor(ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    ssehub::hub h(ioc.get_executor());
    std::optional<ssehub::serve_outcome> got;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto sock = co_await acceptor.async_accept(asio::use_awaitable);
            // A named options object: g++ 12 mishandles a serve_options{}
            // temporary inside the co_await expression (docs/serving.md).
            ssehub::serve_options opts;
            got = co_await h.async_serve(std::move(sock), std::move(opts), asio::use_awaitable);
            co_await h.async_shutdown(1s);
        },
        asio::detached);
    std::thread t([&] { ioc.run(); });
    client c;
    c.get(acceptor.local_endpoint().port(), "/events");  // no topics: 400
    REQUIRE(c.wait_closed());
    t.join();
    REQUIRE(got);
    CHECK(got->reason == ssehub::serve_reason::rejected);
    CHECK(got->status == 400);
}

TEST_CASE("logger: a throwing on_connect reaches the configured sink", "[serve][logger]") {
    std::mutex mu;
    std::vector<std::pair<ssehub::logger::level, std::string>> lines;
    ssehub::hub_config cfg;
    cfg.log = ssehub::logger(ssehub::logger::level::error, [&](ssehub::logger::level l, std::string_view msg) {
        std::lock_guard lock(mu);
        lines.emplace_back(l, std::string(msg));
    });
    cfg.on_connect = [](const ssehub::http::request&, ssehub::connection&) -> std::optional<ssehub::rejection> {
        throw std::runtime_error("boom");
    };
    test::server s(cfg);
    client c;
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_closed());
    CHECK(c.status() == 500);
    REQUIRE(test::poll_until([&] {
        std::lock_guard lock(mu);
        return !lines.empty();
    }));
    std::lock_guard lock(mu);
    CHECK(lines[0].first == ssehub::logger::level::error);
    CHECK(lines[0].second == "on_connect: boom");
}

TEST_CASE("logger: levels below the minimum are dropped; a throwing sink is contained", "[logger]") {
    int calls = 0;
    ssehub::logger log(ssehub::logger::level::warning, [&](ssehub::logger::level, std::string_view) {
        ++calls;
        throw std::runtime_error("sink failed");
    });
    log.log(ssehub::logger::level::info, "dropped");
    CHECK(calls == 0);
    log.log(ssehub::logger::level::error, "kept");  // must not throw
    CHECK(calls == 1);
    CHECK_FALSE(ssehub::logger(ssehub::logger::level::off).enabled(ssehub::logger::level::error));
    CHECK(ssehub::to_string(ssehub::logger::level::warning) == "warning");
    CHECK(ssehub::to_string(ssehub::serve_reason::slow_consumer) == "slow_consumer");
}

namespace {

// A connected socket pair on loopback: `server` is read by async_read_request,
// `peer` is written by the test (blocking).
struct socket_pair {
    asio::io_context ioc;
    asio::ip::tcp::socket server{ioc};
    asio::ip::tcp::socket peer{ioc};
    socket_pair() {
        asio::ip::tcp::acceptor a(ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        peer.connect(a.local_endpoint());
        server = a.accept();
    }
};

struct read_run {
    std::error_code ec;
    std::string rest;
    ssehub::http::request_parser parser;
    explicit read_run(std::size_t max_head = 8192) : parser(max_head) {}
};

// Starts the read, then writes `chunks` one by one (each a separate send),
// and runs the io_context until the read completes.
void read_with(socket_pair& p, read_run& r, std::vector<std::string> chunks, std::chrono::milliseconds timeout,
               bool close_after = false) {
    bool done = false;
    ssehub::http::async_read_request(p.server, r.parser, r.rest, timeout, [&](std::error_code ec) {
        r.ec = ec;
        done = true;
    });
    for (const auto& chunk : chunks) {
        asio::write(p.peer, asio::buffer(chunk));
        // Let the read take this chunk before the next one is sent: the head
        // arrives split across reads.
        for (int i = 0; i < 20 && !done; ++i) p.ioc.poll();
    }
    if (close_after) p.peer.close();
    while (!done) p.ioc.run_one();
}

}  // namespace

TEST_CASE("async_read_request: a head split across reads, bytes after it kept", "[serve][http_read]") {
    socket_pair p;
    read_run r;
    read_with(p, r, {"GET /events?top", "ics=a HTTP/1.1\r\nHo", "st: x\r\n", "\r\nBODY"}, 5s);
    REQUIRE_FALSE(r.ec);
    CHECK(r.parser.get().target == "/events?topics=a");
    CHECK(*r.parser.get().find("host") == "x");
    CHECK(r.rest == "BODY");
    CHECK(ssehub::http::error_status(r.ec, r.parser) == 0);
}

TEST_CASE("async_read_request: 408 when the head does not arrive in time", "[serve][http_read]") {
    socket_pair p;
    read_run r;
    read_with(p, r, {"GET / HTTP/1.1\r\n"}, 30ms);
    CHECK(r.ec == ssehub::error::request_timeout);
    CHECK(ssehub::http::error_status(r.ec, r.parser) == 408);
}

TEST_CASE("async_read_request: 431 over the head limit", "[serve][http_read]") {
    socket_pair p;
    read_run r(64);
    read_with(p, r, {"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n"}, 5s);
    CHECK(r.ec == ssehub::error::header_too_large);
    CHECK(ssehub::http::error_status(r.ec, r.parser) == 431);
}

TEST_CASE("async_read_request: 400 for a malformed head", "[serve][http_read]") {
    socket_pair p;
    read_run r;
    read_with(p, r, {"GARBAGE\r\n\r\n"}, 5s);
    CHECK(r.ec == ssehub::error::bad_request);
    CHECK(ssehub::http::error_status(r.ec, r.parser) == 400);
    CHECK_FALSE(r.parser.error_message().empty());
}

TEST_CASE("async_read_request: the peer leaving is the stream's error, no status", "[serve][http_read]") {
    socket_pair p;
    read_run r;
    read_with(p, r, {"GET / HT"}, 5s, true);
    CHECK(r.ec == asio::error::eof);
    CHECK(ssehub::http::error_status(r.ec, r.parser) == 0);
}

TEST_CASE("async_read_request: per-operation cancellation", "[serve][http_read]") {
    socket_pair p;
    read_run r;
    asio::cancellation_signal sig;
    bool done = false;
    ssehub::http::async_read_request(p.server, r.parser, r.rest, 5s,
                                     asio::bind_cancellation_slot(sig.slot(), [&](std::error_code ec) {
                                         r.ec = ec;
                                         done = true;
                                     }));
    p.ioc.poll();
    sig.emit(asio::cancellation_type::terminal);
    while (!done) p.ioc.run_one();
    CHECK(r.ec == asio::error::operation_aborted);
}

TEST_CASE("async_read_request: co_await with redirect_error", "[serve][http_read]") {
    socket_pair p;
    asio::write(p.peer, asio::buffer(std::string("GET /x HTTP/1.1\r\nHost: y\r\n\r\n")));
    ssehub::http::request_parser parser;
    std::string rest;
    std::error_code ec;
    bool done = false;
    asio::co_spawn(
        p.ioc,
        [&]() -> asio::awaitable<void> {
            co_await ssehub::http::async_read_request(p.server, parser, rest, 5s,
                                                      asio::redirect_error(asio::use_awaitable, ec));
            done = true;
        },
        asio::detached);
    p.ioc.run();
    REQUIRE(done);
    CHECK_FALSE(ec);
    CHECK(parser.get().target == "/x");
}

TEST_CASE("serve outcome: a credential that expires mid-stream ends it with auth-expired", "[serve][auth]") {
    ssehub::hub_config cfg;
    cfg.auth_expiry_grace = 100ms;
    cfg.heartbeat_interval = 40ms;  // a sweep every 10 ms
    cfg.authenticate = [](const ssehub::http::request&) -> asio::awaitable<ssehub::auth_outcome> {
        ssehub::auth_outcome a;
        a.metadata = {{"sub", "u1"}};
        a.expires = std::chrono::system_clock::now() + 200ms;
        co_return a;
    };
    server s(cfg, 1, plain_options);
    client c;
    const auto started = test::clock::now();
    c.get(s.port(), "/events?topics=a");
    REQUIRE(c.wait_events(1));
    REQUIRE(c.read_until([&] {
        for (const auto& e : c.events)
            if (e.type == "auth-expired") return true;
        return false;
    }));
    CHECK(test::clock::now() - started >= 300ms);  // the expiry plus the grace, never earlier
    const auto& last = c.events.back();
    CHECK(last.type == "auth-expired");
    CHECK(last.data == R"({"reason":"expired"})");
    CHECK(c.wait_closed());
    REQUIRE(s.wait_outcomes(1));
    CHECK(s.outcome(0).reason == ssehub::serve_reason::auth_expired);
    CHECK(ssehub::to_string(ssehub::serve_reason::auth_expired) == "auth_expired");
}
