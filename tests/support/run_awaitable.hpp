// Runs one awaitable to completion on a fresh io_context and returns its
// result (rethrows what it threw): for unit tests of awaitable interfaces.
// The completion runs on this thread (not use_future's, which completes on
// Asio's system thread and leaves TSan a shared exception to trip over).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <exception>
#include <optional>
#include <utility>

namespace test {

template <class T>
T run(asio::awaitable<T> op) {
    asio::io_context ioc;
    std::exception_ptr error;
    std::optional<T> result;
    asio::co_spawn(ioc, std::move(op), [&](std::exception_ptr e, T value) {
        if (e) error = e;
        else result.emplace(std::move(value));
    });
    ioc.run();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
}

}  // namespace test
