// Runs one awaitable to completion on a fresh io_context and returns its
// result (rethrows what it threw): for unit tests of awaitable interfaces.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

namespace test {

template <class T>
T run(asio::awaitable<T> op) {
    asio::io_context ioc;
    auto fut = asio::co_spawn(ioc, std::move(op), asio::use_future);
    ioc.run();
    return fut.get();
}

}  // namespace test
