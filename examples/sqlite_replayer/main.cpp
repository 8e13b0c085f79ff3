// ssehub_sqlite_replayer: the "custom replayer" example. A hub whose
// Last-Event-ID replay is a user's own type (sqlite_replayer, this folder),
// plugged in through the ssehub::replayer concept; it publishes a tick every
// second on topic "ticks". Stop it, start it again on the same file, and a
// client that reconnects with its last id gets the ticks it missed before the
// restart (and none twice).
//
//   ssehub_sqlite_replayer [--db ticks.db] [--host 127.0.0.1] [--port 8080]
//   curl -N 'http://127.0.0.1:8080/events?topics=ticks'
//   curl -N -H 'Last-Event-ID: <an id printed above>' 'http://127.0.0.1:8080/events?topics=ticks'
//   (examples/sqlite_replayer/smoke_test.sh does exactly that; ctest runs it)
#include "sqlite_replayer.hpp"

#include <ssehub/hub.hpp>

#include <asio.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

void report(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error& ex) {
        if (ex.code() != asio::error::operation_aborted)  // the acceptor closed at shutdown
            std::cerr << "ssehub_sqlite_replayer: " << ex.what() << '\n';
    } catch (const std::exception& ex) {
        std::cerr << "ssehub_sqlite_replayer: " << ex.what() << '\n';
    }
}

asio::awaitable<void> listen(ssehub::hub& hub, asio::ip::tcp::acceptor& acceptor) {
    for (;;) {
        auto sock = co_await acceptor.async_accept(asio::use_awaitable);
        asio::co_spawn(acceptor.get_executor(), hub.async_serve(std::move(sock)), report);
    }
}

asio::awaitable<void> tick(ssehub::hub& hub) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (long n = 1;; ++n) {
        timer.expires_after(std::chrono::seconds(1));
        co_await timer.async_wait(asio::use_awaitable);
        ssehub::event e;
        e.topics.push_back("ticks");
        e.type = "tick";
        e.data = std::to_string(n);
        co_await hub.async_publish(std::move(e));
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string db = "ticks.db";
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--db" && i + 1 < argc) db = argv[++i];
        else if (a == "--host" && i + 1 < argc) host = argv[++i];
        else if (a == "--port" && i + 1 < argc) port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else {
            std::cout << "usage: ssehub_sqlite_replayer [--db ticks.db] [--host 127.0.0.1] [--port 8080]\n";
            return a == "--help" ? 0 : 2;
        }
    }
    try {
        sqlite_example::sqlite_replayer_config rc;
        rc.path = db;
        rc.max_events = 1000;
        rc.max_age = std::chrono::minutes(10);
        ssehub::hub_config cfg;
        // Any type satisfying ssehub::replayer plugs in; this one offers the
        // synchronous fast path too, so the hub calls it on its strand.
        cfg.replayer = ssehub::any_replayer(std::in_place_type<sqlite_example::sqlite_replayer>, std::move(rc));

        asio::io_context ioc;
        ssehub::hub hub(ioc.get_executor(), std::move(cfg));
        asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address(host), port});
        std::cout << "ssehub_sqlite_replayer listening on http://" << host << ':' << acceptor.local_endpoint().port()
                  << "/events?topics=ticks (replay in " << db << ")" << std::endl;
        asio::co_spawn(ioc, listen(hub, acceptor), report);
        asio::co_spawn(ioc, tick(hub), report);
        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](std::error_code, int) {
            acceptor.close();
            asio::co_spawn(ioc, hub.async_shutdown(std::chrono::seconds(2)), [&](std::exception_ptr) { ioc.stop(); });
        });
        ioc.run();
    } catch (const std::exception& e) {
        std::cerr << "ssehub_sqlite_replayer: " << e.what() << '\n';
        return 1;
    }
}
