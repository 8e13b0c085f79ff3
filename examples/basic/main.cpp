// ssehub_basic: serves a page whose EventSource shows live events, and
// publishes a counter every second on topic "counter".
//
//   ssehub_basic [--host 127.0.0.1] [--port 8080]
//   open http://127.0.0.1:8080/   or   curl -N 'http://127.0.0.1:8080/events?topics=counter'
#include <ssehub/hub.hpp>

#include <asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

constexpr std::string_view page = R"html(<!doctype html>
<html><head><meta charset="utf-8"><title>ssehub basic</title></head>
<body>
<h1>ssehub: live counter</h1>
<p>Status: <span id="status">connecting</span></p>
<p>Counter: <strong id="counter">-</strong></p>
<ul id="log"></ul>
<script>
  const es = new EventSource('/events?topics=counter');
  es.addEventListener('connected', () => { document.getElementById('status').textContent = 'connected'; });
  es.addEventListener('tick', (e) => {
    document.getElementById('counter').textContent = JSON.parse(e.data).n;
    const li = document.createElement('li');
    li.textContent = e.lastEventId + ' ' + e.data;
    const log = document.getElementById('log');
    log.prepend(li);
    while (log.children.length > 10) log.lastChild.remove();
  });
  es.onerror = () => { document.getElementById('status').textContent = 'reconnecting'; };
</script>
</body></html>
)html";

void report(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        std::cerr << "ssehub_basic: " << ex.what() << '\n';
    }
}

// Reads the request head; "/" gets the page, everything else goes to the hub.
asio::awaitable<void> session(ssehub::hub& hub, asio::ip::tcp::socket sock) {
    ssehub::http::request_parser parser(hub.config().max_request_head);
    char buf[1024];
    for (;;) {
        std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::use_awaitable);
        std::size_t consumed = 0;
        const auto r = parser.feed(std::string_view(buf, n), consumed);
        if (r == ssehub::http::request_parser::result::need_more) continue;
        if (r == ssehub::http::request_parser::result::error) {
            const int st = parser.error_status();
            co_await asio::async_write(
                sock, asio::buffer(ssehub::http::make_response(st, "text/plain", ssehub::http::reason_phrase(st))),
                asio::use_awaitable);
            co_return;
        }
        break;
    }
    auto& req = parser.get();
    if (req.method == "GET" && req.path() == "/") {
        co_await asio::async_write(sock, asio::buffer(ssehub::http::make_response(200, "text/html; charset=utf-8", page)),
                                   asio::use_awaitable);
        co_return;
    }
    co_await hub.async_serve(std::move(sock), std::move(req));
}

asio::awaitable<void> listen(ssehub::hub& hub, asio::ip::tcp::acceptor& acceptor) {
    for (;;) {
        auto sock = co_await acceptor.async_accept(asio::use_awaitable);
        asio::co_spawn(acceptor.get_executor(), session(hub, std::move(sock)), report);
    }
}

asio::awaitable<void> count(ssehub::hub& hub) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (long n = 1;; ++n) {
        timer.expires_after(std::chrono::seconds(1));
        co_await timer.async_wait(asio::use_awaitable);
        ssehub::event e;
        e.topics = {"counter"};
        e.type = "tick";
        e.data = "{\"n\":" + std::to_string(n) + "}";
        co_await hub.async_publish(std::move(e));
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--host" && i + 1 < argc) host = argv[++i];
        else if (a == "--port" && i + 1 < argc) port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else {
            std::cout << "usage: ssehub_basic [--host 127.0.0.1] [--port 8080]\n";
            return a == "--help" ? 0 : 2;
        }
    }
    asio::io_context ioc;
    ssehub::hub hub(ioc.get_executor());
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address(host), port});
    std::cout << "ssehub_basic listening on http://" << host << ':' << acceptor.local_endpoint().port() << "/"
              << std::endl;
    asio::co_spawn(ioc, listen(hub, acceptor), report);
    asio::co_spawn(ioc, count(hub), report);
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
        acceptor.close();
        asio::co_spawn(ioc, hub.async_shutdown(std::chrono::seconds(2)), [&](std::exception_ptr) { ioc.stop(); });
    });
    ioc.run();
}
