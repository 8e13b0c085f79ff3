// Waiting without sleeping, shared by the coroutine primitive tests: run an
// io_context until a condition holds, or poll one from a thread, each with a
// deadline. And a manual clock for the stores with TTLs.
#pragma once

#include <asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

namespace test {

// Runs ready handlers (and those they make ready) without blocking.
inline void drain(asio::io_context& io) {
    io.restart();
    io.poll();
}

// Runs io until pred() holds; false if it does not within the limit.
template <class Pred>
bool run_until(asio::io_context& io, Pred pred,
               std::chrono::steady_clock::duration limit = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        io.restart();
        io.run_one_for(std::chrono::milliseconds(10));
    }
    return true;
}

// Polls pred() from a thread that runs no io_context (yield, never sleep).
template <class Pred>
bool wait_until(Pred pred, std::chrono::steady_clock::duration limit = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

// A steady_clock stand-in that moves only when told; copies share the time.
struct manual_clock {
    using time_point = std::chrono::steady_clock::time_point;
    std::shared_ptr<time_point> now = std::make_shared<time_point>(std::chrono::hours(1000));
    std::function<time_point()> fn() const {
        return [n = now] { return *n; };
    }
    void advance(std::chrono::milliseconds d) const { *now += d; }
};

}  // namespace test
