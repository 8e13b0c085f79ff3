// An Asio stream in memory, for driving the hub without the kernel: a write
// completes (posted through the stream's io_context) at once and is counted;
// a read waits until the stream is closed, then reports EOF. Used by the
// write-batching tests and the shard benchmark (perf/bench_shards.cpp).
#pragma once

#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

namespace test {

// What the streams sharing it wrote; wakes wait_bytes() once `target` is reached.
struct write_counter {
    std::atomic<std::uint64_t> bytes{0};
    std::atomic<std::uint64_t> writes{0};
    std::atomic<std::uint64_t> target{0};  // 0: nobody waits
    std::mutex m;
    std::condition_variable cv;

    void add(std::uint64_t n) {
        writes.fetch_add(1, std::memory_order_relaxed);
        const std::uint64_t total = bytes.fetch_add(n, std::memory_order_relaxed) + n;
        const std::uint64_t t = target.load(std::memory_order_relaxed);
        if (t != 0 && total >= t) {
            std::lock_guard l(m);
            cv.notify_all();
        }
    }
    // Blocks until `total` bytes were written (no timeout: benchmarks only).
    void wait_bytes(std::uint64_t total) {
        target = total;
        std::unique_lock l(m);
        cv.wait(l, [&] { return bytes.load() >= total; });
        target = 0;
    }
};

class memory_stream {
public:
    using executor_type = asio::io_context::executor_type;
    memory_stream(asio::io_context& io, write_counter& counter)
        : ex_(io.get_executor()), counter_(&counter), eof_(std::make_unique<asio::steady_timer>(io)) {
        eof_->expires_at(asio::steady_timer::time_point::max());
    }
    executor_type get_executor() const { return ex_; }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& bufs, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [this](auto handler, std::size_t n) {
                counter_->add(n);
                asio::post(ex_, [h = std::move(handler), n]() mutable { h(std::error_code{}, n); });
            },
            token, asio::buffer_size(bufs));
    }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers&, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [this](auto handler) {
                eof_->async_wait([h = std::move(handler)](std::error_code) mutable { h(std::error_code(asio::error::eof), std::size_t{0}); });
            },
            token);
    }
    void close(std::error_code&) { eof_->cancel(); }

private:
    executor_type ex_;
    write_counter* counter_;
    std::unique_ptr<asio::steady_timer> eof_;
};

}  // namespace test
