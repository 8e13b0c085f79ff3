// Consumer of an installed ssehub (find_package): publish with no subscribers, then shut down.
#include <ssehub/hub.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <exception>
#include <iostream>

asio::awaitable<int> publish_and_shutdown(ssehub::hub& hub, ssehub::event e) {
    const ssehub::publish_result r = co_await hub.async_publish(std::move(e));
    co_await hub.async_shutdown();
    co_return r.matched == 0 ? 0 : 1;
}

int main() {
    asio::io_context io;
    ssehub::hub hub(io.get_executor());
    ssehub::event e;
    e.topics = {"demo"};
    e.data = "hi";
    if (const std::error_code ec = hub.publish(e)) {
        std::cerr << "publish: " << ec.message() << '\n';
        return 1;
    }
    int rc = 1;
    asio::co_spawn(io, publish_and_shutdown(hub, e), [&rc](std::exception_ptr ep, int r) {
        if (ep) {
            try { std::rethrow_exception(ep); } catch (const std::exception& x) { std::cerr << "async: " << x.what() << '\n'; }
        } else {
            rc = r;
        }
    });
    io.run();
    std::cout << "ssehub consumer: " << (rc == 0 ? "ok" : "FAILED") << '\n';
    return rc;
}
