#include <ssehub/hub.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <exception>
#include <iostream>

asio::awaitable<std::size_t> publish_and_shutdown(ssehub::hub& hub, ssehub::event e) {
    const ssehub::publish_result r = co_await hub.async_publish(std::move(e));
    co_await hub.async_shutdown();
    co_return r.matched;
}

int main() {
    asio::io_context io;
    ssehub::hub hub(io.get_executor());
    ssehub::event e;
    e.topics = {"demo"};
    e.data = "hi";
    int rc = hub.publish(e) ? 1 : 0;
    asio::co_spawn(io, publish_and_shutdown(hub, e), [&rc](std::exception_ptr ep, std::size_t matched) {
        if (ep || matched != 0) rc = 1;
        std::cout << "ssehub test_package: published to " << matched << " connections\n";
    });
    io.run();
    return rc;
}
