// Tests for ssehub::coro::channel: ordering, bounds, waiting, close, cancellation,
// threads, and storage that is released when the channel is empty.
#include <ssehub/coro/channel.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>
#include "support/polling.hpp"

using ssehub::coro::channel;
using ssehub::coro::channel_errc;

namespace {

using test::drain;
using test::run_until;
using test::wait_until;

using namespace std::chrono_literals;

struct outcome {
    bool done = false;
    std::exception_ptr error;
};

auto record(outcome& o) {
    return [&o](std::exception_ptr e) {
        o.done = true;
        o.error = e;
    };
}

std::error_code code_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error& error) {
        return error.code();
    } catch (...) {
        return {};
    }
}

asio::awaitable<void> receive_into(channel<int>& ch, std::vector<int>& out) {
    out.push_back(co_await ch.receive());
}

asio::awaitable<void> receive_all(channel<int>& ch, std::vector<int>& out) {
    for (;;) {
        out.push_back(co_await ch.receive());  // throws channel_errc::closed at the end
    }
}

asio::awaitable<void> send_one(channel<int>& ch, int value) { co_await ch.send(value); }

// Counts ring storage so tests can see that an empty channel holds none.
struct alloc_stats {
    std::atomic<long> allocations{0};
    std::atomic<long> live_slots{0};
};

template <class T>
struct counting_allocator {
    using value_type = T;
    alloc_stats* stats;
    explicit counting_allocator(alloc_stats* s) noexcept : stats(s) {}
    template <class U>
    counting_allocator(const counting_allocator<U>& other) noexcept : stats(other.stats) {}
    T* allocate(std::size_t n) {
        ++stats->allocations;
        stats->live_slots += static_cast<long>(n);
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) noexcept {
        stats->live_slots -= static_cast<long>(n);
        std::allocator<T>().deallocate(p, n);
    }
    template <class U>
    bool operator==(const counting_allocator<U>& other) const noexcept {
        return stats == other.stats;
    }
};

}  // namespace

TEST_CASE("channel: error code has its own category", "[channel]") {
    std::error_code ec = channel_errc::closed;
    CHECK(ec == channel_errc::closed);
    CHECK(ec.message() == "channel closed");
    CHECK(std::string(ec.category().name()) == "ssehub.coro.channel");
    CHECK(ec != std::errc::operation_canceled);
}

TEST_CASE("channel: capacity must be at least one", "[channel]") {
    CHECK_THROWS_AS(channel<int>(0), std::invalid_argument);
    channel<int> ch(1);
    CHECK(ch.capacity() == 1);
}

TEST_CASE("channel: try_send/try_receive keep FIFO order", "[channel]") {
    channel<int> ch(8);
    for (int i = 1; i <= 5; ++i) {
        REQUIRE(ch.try_send(i));
    }
    CHECK(ch.size() == 5);
    for (int i = 1; i <= 5; ++i) {
        int v = 0;
        REQUIRE(ch.try_receive(v));
        CHECK(v == i);
    }
    int v = 0;
    CHECK_FALSE(ch.try_receive(v));
    CHECK(ch.size() == 0);
}

TEST_CASE("channel: FIFO order survives ring wrap-around and growth", "[channel]") {
    channel<int> ch(100);
    int next_in = 0;
    int next_out = 0;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < round % 13 + 1; ++i) {
            if (!ch.try_send(next_in)) {
                REQUIRE(ch.size() == ch.capacity());
                break;
            }
            ++next_in;
        }
        for (int i = 0; i < round % 7 + 1; ++i) {
            int v = -1;
            if (!ch.try_receive(v)) {
                break;
            }
            REQUIRE(v == next_out++);
        }
    }
    int v = -1;
    while (ch.try_receive(v)) {
        REQUIRE(v == next_out++);
    }
    CHECK(next_out == next_in);
}

TEST_CASE("channel: try_send fails when full and async_send waits for space", "[channel]") {
    asio::io_context io;
    channel<int> ch(2);
    REQUIRE(ch.try_send(1));
    REQUIRE(ch.try_send(2));
    CHECK_FALSE(ch.try_send(99));
    CHECK(ch.size() == 2);

    outcome sent;
    asio::co_spawn(io, send_one(ch, 3), record(sent));
    drain(io);
    CHECK_FALSE(sent.done);  // waiting for space
    CHECK(ch.size() == 2);

    int v = 0;
    REQUIRE(ch.try_receive(v));
    CHECK(v == 1);
    CHECK(ch.size() == 2);  // the waiting sender's value moved in at once
    CHECK_FALSE(sent.done);  // ...but its completion is posted, not run inline
    drain(io);
    REQUIRE(sent.done);
    CHECK_FALSE(sent.error);

    REQUIRE(ch.try_receive(v));
    CHECK(v == 2);
    REQUIRE(ch.try_receive(v));
    CHECK(v == 3);
}

TEST_CASE("channel: try_send_unless_waiting leaves an idle receiver waiting", "[channel]") {
    using result = channel<int>::send_result;
    asio::io_context io;
    channel<int> ch(4);
    std::vector<int> got;
    outcome received;
    asio::co_spawn(io, receive_all(ch, got), record(received));
    drain(io);
    REQUIRE_FALSE(received.done);

    int v = 7;
    CHECK(ch.try_send_unless_waiting(v, 4) == result::receiver_waiting);  // the caller hands it over itself
    CHECK(v == 7);
    CHECK(ch.size() == 0);
    drain(io);
    CHECK_FALSE(received.done);  // still waiting, for the next value

    REQUIRE(ch.try_send(8));  // handed to the receiver: no longer waiting
    CHECK(ch.try_send_unless_waiting(v, 4) == result::sent);  // queued behind it, in order
    CHECK(ch.size() == 1);
    int w = 9;
    CHECK(ch.try_send_unless_waiting(w, 1) == result::refused);  // at the limit
    ch.close();
    CHECK(ch.try_send_unless_waiting(w, 4) == result::refused);
    drain(io);
    REQUIRE(received.done);
    CHECK(got == std::vector<int>{8, 7});
}

TEST_CASE("channel: receive waits, then gets a value handed over directly", "[channel]") {
    asio::io_context io;
    channel<int> ch(4);
    std::vector<int> got;
    outcome received;
    asio::co_spawn(io, receive_into(ch, got), record(received));
    drain(io);
    CHECK_FALSE(received.done);

    REQUIRE(ch.try_send(42));
    CHECK(ch.size() == 0);             // went to the waiting receiver, not the queue
    CHECK(ch.allocated_slots() == 0);  // ...so no storage was needed
    CHECK_FALSE(received.done);        // completion is posted, not run inside try_send
    drain(io);
    REQUIRE(received.done);
    CHECK_FALSE(received.error);
    CHECK(got == std::vector<int>{42});
}

TEST_CASE("channel: completions are posted, never run in the initiating call", "[channel]") {
    asio::io_context io;
    channel<int> ch(4);
    REQUIRE(ch.try_send(7));
    bool called = false;
    int value = 0;
    ch.async_receive(asio::bind_executor(io, [&](std::error_code ec, int v) {
        called = true;
        CHECK_FALSE(ec);
        value = v;
    }));
    CHECK_FALSE(called);
    drain(io);
    CHECK(called);
    CHECK(value == 7);

    bool send_called = false;
    ch.async_send(8, asio::bind_executor(io, [&](std::error_code ec) {
        send_called = true;
        CHECK_FALSE(ec);
    }));
    CHECK_FALSE(send_called);
    drain(io);
    CHECK(send_called);
    CHECK(ch.size() == 1);
}

TEST_CASE("channel: completion runs on the handler's associated executor", "[channel]") {
    asio::io_context handler_io;
    auto work = asio::make_work_guard(handler_io);
    std::thread handler_thread([&] { handler_io.run(); });

    channel<int> ch(4);
    std::atomic<bool> on_right_thread{false};
    std::atomic<int> value{0};
    ch.async_receive(asio::bind_executor(handler_io, [&](std::error_code, int v) {
        on_right_thread = handler_io.get_executor().running_in_this_thread();
        value = v;
    }));
    REQUIRE(ch.try_send(5));
    CHECK(wait_until([&] { return value.load() == 5; }));
    work.reset();
    handler_thread.join();
    CHECK(on_right_thread);
}

TEST_CASE("channel: close drains queued values to receivers, then fails them", "[channel]") {
    asio::io_context io;
    channel<int> ch(4);
    REQUIRE(ch.try_send(1));
    REQUIRE(ch.try_send(2));
    ch.close();
    ch.close();  // idempotent
    CHECK(ch.is_closed());
    CHECK_FALSE(ch.try_send(3));

    std::vector<int> got;
    outcome received;
    asio::co_spawn(io, receive_all(ch, got), record(received));
    drain(io);
    REQUIRE(received.done);
    CHECK(got == std::vector<int>{1, 2});
    CHECK(code_of(received.error) == channel_errc::closed);
    int v = 0;
    CHECK_FALSE(ch.try_receive(v));
}

TEST_CASE("channel: close wakes pending receivers", "[channel]") {
    asio::io_context io;
    channel<int> ch(4);
    std::vector<int> got1;
    std::vector<int> got2;
    outcome r1;
    outcome r2;
    asio::co_spawn(io, receive_all(ch, got1), record(r1));
    asio::co_spawn(io, receive_all(ch, got2), record(r2));
    drain(io);
    REQUIRE(ch.try_send(10));  // to the first waiter
    drain(io);
    CHECK(got1 == std::vector<int>{10});
    CHECK_FALSE(r1.done);
    CHECK_FALSE(r2.done);

    ch.close();
    drain(io);
    REQUIRE(r1.done);
    REQUIRE(r2.done);
    CHECK(code_of(r1.error) == channel_errc::closed);
    CHECK(code_of(r2.error) == channel_errc::closed);
    CHECK(got2.empty());
}

TEST_CASE("channel: send after close fails, and close fails pending senders", "[channel]") {
    asio::io_context io;
    channel<int> ch(1);
    REQUIRE(ch.try_send(1));
    outcome pending;
    asio::co_spawn(io, send_one(ch, 2), record(pending));
    drain(io);
    CHECK_FALSE(pending.done);

    ch.close();
    drain(io);
    REQUIRE(pending.done);
    CHECK(code_of(pending.error) == channel_errc::closed);

    outcome late;
    asio::co_spawn(io, send_one(ch, 3), record(late));
    drain(io);
    REQUIRE(late.done);
    CHECK(code_of(late.error) == channel_errc::closed);

    int v = 0;  // the value queued before close is still delivered
    REQUIRE(ch.try_receive(v));
    CHECK(v == 1);
    CHECK_FALSE(ch.try_receive(v));
}

TEST_CASE("channel: a cancellation signal aborts a pending receive", "[channel]") {
    asio::io_context io;
    channel<int> ch(4);
    asio::cancellation_signal signal;
    std::error_code result;
    bool called = false;
    ch.async_receive(asio::bind_cancellation_slot(signal.slot(), asio::bind_executor(io, [&](std::error_code ec, int) {
                                                      called = true;
                                                      result = ec;
                                                  })));
    drain(io);
    CHECK_FALSE(called);

    signal.emit(asio::cancellation_type::terminal);
    CHECK_FALSE(called);  // posted
    drain(io);
    REQUIRE(called);
    CHECK(result == asio::error::operation_aborted);

    // The aborted receiver is gone: a value now goes to the queue.
    REQUIRE(ch.try_send(1));
    CHECK(ch.size() == 1);
    signal.emit(asio::cancellation_type::terminal);  // late: reaches nothing
    drain(io);
    CHECK(ch.size() == 1);
}

TEST_CASE("channel: partial and total cancellation abort a pending send; the value is not queued", "[channel]") {
    for (auto type : {asio::cancellation_type::partial, asio::cancellation_type::total}) {
        asio::io_context io;
        channel<int> ch(1);
        REQUIRE(ch.try_send(1));
        asio::cancellation_signal signal;
        std::error_code result;
        bool called = false;
        ch.async_send(2, asio::bind_cancellation_slot(signal.slot(), asio::bind_executor(io, [&](std::error_code ec) {
                                                          called = true;
                                                          result = ec;
                                                      })));
        drain(io);
        CHECK_FALSE(called);
        signal.emit(type);
        drain(io);
        REQUIRE(called);
        CHECK(result == asio::error::operation_aborted);
        int v = 0;
        REQUIRE(ch.try_receive(v));
        CHECK(v == 1);
        CHECK_FALSE(ch.try_receive(v));
    }
}

TEST_CASE("channel: cancelling a coroutine blocked in receive throws operation_aborted", "[channel]") {
    asio::io_context io;
    channel<int> ch(4);
    asio::cancellation_signal signal;
    std::vector<int> got;
    outcome received;
    asio::co_spawn(io, receive_into(ch, got), asio::bind_cancellation_slot(signal.slot(), record(received)));
    drain(io);
    CHECK_FALSE(received.done);
    signal.emit(asio::cancellation_type::terminal);
    drain(io);
    REQUIRE(received.done);
    CHECK(code_of(received.error) == asio::error::operation_aborted);
    CHECK(got.empty());
}

TEST_CASE("channel: destroying a channel aborts its waiting operations", "[channel]") {
    asio::io_context io;
    std::error_code result;
    bool called = false;
    {
        channel<int> ch(4);
        ch.async_receive(asio::bind_executor(io, [&](std::error_code ec, int) {
            called = true;
            result = ec;
        }));
        drain(io);
        CHECK_FALSE(called);
    }
    drain(io);
    REQUIRE(called);
    CHECK(result == asio::error::operation_aborted);
}

TEST_CASE("channel: try_receive_some moves up to max values under one lock", "[channel]") {
    channel<int> ch(16);
    for (int i = 0; i < 10; ++i) {
        REQUIRE(ch.try_send(i));
    }
    std::vector<int> out;
    CHECK(ch.try_receive_some(std::back_inserter(out), 4) == 4);
    CHECK(out == std::vector<int>{0, 1, 2, 3});
    CHECK(ch.try_receive_some(std::back_inserter(out), 100) == 6);
    CHECK(out == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(ch.try_receive_some(std::back_inserter(out), 100) == 0);
    CHECK(ch.try_receive_some(std::back_inserter(out), 0) == 0);
    CHECK(ch.allocated_slots() > 0);  // kept for the next burst until a receiver waits
    ch.close();
    CHECK(ch.allocated_slots() == 0);  // closed and drained: released
}

TEST_CASE("channel: try_receive_some lets waiting senders in, in order", "[channel]") {
    asio::io_context io;
    channel<int> ch(2);
    REQUIRE(ch.try_send(0));
    REQUIRE(ch.try_send(1));
    outcome s2;
    outcome s3;
    outcome s4;
    asio::co_spawn(io, send_one(ch, 2), record(s2));
    asio::co_spawn(io, send_one(ch, 3), record(s3));
    asio::co_spawn(io, send_one(ch, 4), record(s4));
    drain(io);
    CHECK_FALSE(s2.done);

    std::vector<int> out;
    CHECK(ch.try_receive_some(std::back_inserter(out), 10) == 2);
    CHECK(out == std::vector<int>{0, 1});
    CHECK(ch.size() == 2);  // 2 and 3 moved in; 4 still waits
    drain(io);
    CHECK(s2.done);
    CHECK(s3.done);
    CHECK_FALSE(s4.done);
    CHECK(ch.try_receive_some(std::back_inserter(out), 10) == 2);
    drain(io);
    CHECK(s4.done);
    CHECK(ch.try_receive_some(std::back_inserter(out), 10) == 1);
    CHECK(out == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("channel: storage grows on demand up to capacity and is released when a receiver waits", "[channel]") {
    alloc_stats stats;
    using frame = std::shared_ptr<const std::string>;
    channel<frame, counting_allocator<frame>> ch(64, counting_allocator<frame>(&stats));
    CHECK(stats.allocations == 0);
    CHECK(ch.allocated_slots() == 0);

    auto f = std::make_shared<const std::string>("data: x\n\n");
    REQUIRE(ch.try_send(f));
    CHECK(stats.live_slots > 0);
    CHECK(ch.allocated_slots() < ch.capacity());  // a limit, not a preallocation
    for (int i = 1; i < 64; ++i) {
        REQUIRE(ch.try_send(f));
    }
    CHECK_FALSE(ch.try_send(f));
    CHECK(ch.allocated_slots() == 64);
    CHECK(stats.live_slots == 64);

    std::vector<frame> out;
    CHECK(ch.try_receive_some(std::back_inserter(out), 64) == 64);
    CHECK(ch.size() == 0);
    CHECK(f.use_count() == 65);  // moved out, not copied or leaked
    out.clear();
    CHECK(f.use_count() == 1);
    // A consumer draining with try_receive* keeps its ring: the next burst
    // reuses it instead of allocating again.
    CHECK(ch.allocated_slots() == 64);
    const long kept = stats.allocations;
    REQUIRE(ch.try_send(f));
    frame one;
    REQUIRE(ch.try_receive(one));
    CHECK(stats.allocations == kept);
    one.reset();

    // A receiver that starts waiting on the empty channel releases it, and a
    // hand-off to a waiting receiver allocates no storage at all.
    asio::io_context io;
    const long before = stats.allocations;
    frame got;
    ch.async_receive(asio::bind_executor(io, [&](std::error_code, frame v) { got = std::move(v); }));
    CHECK(ch.allocated_slots() == 0);
    CHECK(stats.live_slots == 0);
    REQUIRE(ch.try_send(f));
    drain(io);
    CHECK(got == f);
    CHECK(stats.allocations == before);
    CHECK(stats.live_slots == 0);
}

TEST_CASE("channel: the object is small", "[channel]") {
    // Embedded once per connection. std::mutex is 40 bytes of it on glibc.
    CHECK(sizeof(channel<std::shared_ptr<const std::string>>) <= 96);
}

TEST_CASE("channel: producers on 4 threads, consumer on another, 100k items", "[channel][stress]") {
    constexpr std::uint32_t producers = 4;
    constexpr std::uint32_t per_producer = 25'000;
    channel<std::uint64_t> ch(64);

    // Consumer: receive, then take whatever else is queued, like a writer.
    struct tally {
        std::vector<std::uint32_t> next = std::vector<std::uint32_t>(producers, 0);
        std::uint64_t count = 0;
        std::uint64_t out_of_order = 0;
        std::uint64_t batches = 0;
    } t;
    auto consume = [](channel<std::uint64_t>& ch, tally& t) -> asio::awaitable<void> {
        std::vector<std::uint64_t> batch;
        for (;;) {
            batch.clear();
            try {
                batch.push_back(co_await ch.receive());
            } catch (const std::system_error& e) {
                if (e.code() == channel_errc::closed) {
                    co_return;
                }
                throw;
            }
            ch.try_receive_some(std::back_inserter(batch), 63);
            ++t.batches;
            for (std::uint64_t v : batch) {
                const auto p = static_cast<std::uint32_t>(v >> 32);
                const auto seq = static_cast<std::uint32_t>(v);
                if (p >= producers || seq != t.next[p]) {
                    ++t.out_of_order;
                } else {
                    ++t.next[p];
                }
                ++t.count;
            }
        }
    };
    asio::io_context consumer_io;
    std::atomic<bool> consumer_done{false};
    std::exception_ptr consumer_error;
    asio::co_spawn(consumer_io, consume(ch, t), [&](std::exception_ptr e) {
        consumer_error = e;
        consumer_done = true;
    });
    std::thread consumer([&] { consumer_io.run(); });

    // Producers 0 and 1: coroutines awaiting send on their own io_context threads.
    auto produce = [](channel<std::uint64_t>& ch, std::uint64_t p, std::uint32_t n) -> asio::awaitable<void> {
        for (std::uint32_t s = 0; s < n; ++s) {
            co_await ch.send((p << 32) | s);
        }
    };
    std::vector<std::thread> threads;
    std::atomic<int> producer_errors{0};
    for (std::uint64_t p = 0; p < 2; ++p) {
        threads.emplace_back([&, p] {
            asio::io_context io;
            asio::co_spawn(io, produce(ch, p, per_producer), [&](std::exception_ptr e) {
                if (e) {
                    ++producer_errors;
                }
            });
            io.run();
        });
    }
    // Producers 2 and 3: plain threads that retry try_send.
    for (std::uint64_t p = 2; p < producers; ++p) {
        threads.emplace_back([&, p] {
            for (std::uint32_t s = 0; s < per_producer; ++s) {
                while (!ch.try_send((p << 32) | s)) {
                    std::this_thread::yield();
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    ch.close();
    consumer.join();

    REQUIRE(consumer_done);
    CHECK_FALSE(consumer_error);
    CHECK(producer_errors == 0);
    CHECK(t.count == producers * per_producer);
    CHECK(t.out_of_order == 0);
    for (std::uint32_t p = 0; p < producers; ++p) {
        CHECK(t.next[p] == per_producer);
    }
    CHECK(ch.allocated_slots() == 0);
}

TEST_CASE("channel: two producers and two consumers lose and duplicate nothing", "[channel][stress]") {
    constexpr std::uint64_t per_producer = 20'000;
    channel<std::uint64_t> ch(16);
    std::vector<std::uint64_t> got[2];

    auto consume = [](channel<std::uint64_t>& ch, std::vector<std::uint64_t>& out) -> asio::awaitable<void> {
        for (;;) {
            try {
                out.push_back(co_await ch.receive());
            } catch (const std::system_error& e) {
                if (e.code() == channel_errc::closed) {
                    co_return;
                }
                throw;
            }
        }
    };
    auto produce = [](channel<std::uint64_t>& ch, std::uint64_t p, std::uint64_t n) -> asio::awaitable<void> {
        for (std::uint64_t s = 0; s < n; ++s) {
            co_await ch.send((p << 32) | s);
        }
    };
    std::atomic<int> errors{0};
    auto count_error = [&](std::exception_ptr e) {
        if (e) {
            ++errors;
        }
    };
    std::vector<std::thread> consumers;
    for (int c = 0; c < 2; ++c) {
        consumers.emplace_back([&, c] {
            asio::io_context io;
            asio::co_spawn(io, consume(ch, got[c]), count_error);
            io.run();
        });
    }
    std::vector<std::thread> producers;
    for (std::uint64_t p = 0; p < 2; ++p) {
        producers.emplace_back([&, p] {
            asio::io_context io;
            asio::co_spawn(io, produce(ch, p, per_producer), count_error);
            io.run();
        });
    }
    for (auto& th : producers) {
        th.join();
    }
    ch.close();
    for (auto& th : consumers) {
        th.join();
    }
    CHECK(errors == 0);

    std::vector<std::uint64_t> all;
    for (auto& g : got) {
        // Each consumer sees each producer's values in order.
        std::uint64_t last[2] = {0, 0};
        bool seen[2] = {false, false};
        for (std::uint64_t v : g) {
            const std::uint64_t p = v >> 32;
            REQUIRE(p < 2);
            if (seen[p]) {
                REQUIRE(v > last[p]);
            }
            seen[p] = true;
            last[p] = v;
        }
        all.insert(all.end(), g.begin(), g.end());
    }
    std::sort(all.begin(), all.end());
    REQUIRE(all.size() == 2 * per_producer);
    for (std::uint64_t p = 0; p < 2; ++p) {
        for (std::uint64_t s = 0; s < per_producer; ++s) {
            REQUIRE(all[p * per_producer + s] == ((p << 32) | s));
        }
    }
}

TEST_CASE("channel: cancellation racing a cross-thread send loses no value", "[channel][stress]") {
    // A receiver on one thread is cancelled right after it starts waiting while
    // another thread try_sends: each value is either received or still queued.
    constexpr int iterations = 20'000;
    asio::io_context io;
    channel<int> ch(8);

    struct receiver {
        channel<int>& ch;
        asio::io_context& io;
        asio::cancellation_signal signal;
        int left = iterations;
        int aborted = 0;
        std::vector<int> got;
        std::atomic<bool> done{false};

        void start() {
            if (left-- == 0) {
                done = true;
                return;
            }
            ch.async_receive(asio::bind_cancellation_slot(
                signal.slot(), asio::bind_executor(io, [this](std::error_code ec, int v) {
                    if (!ec) {
                        got.push_back(v);
                    } else if (ec == asio::error::operation_aborted) {
                        ++aborted;
                    }
                    start();
                })));
            asio::post(io, [this] { signal.emit(asio::cancellation_type::terminal); });
        }
    };
    receiver r{ch, io, {}, iterations, 0, {}, {}};
    asio::post(io, [&] { r.start(); });

    std::vector<int> sent;
    std::thread producer([&] {
        for (int i = 0; !r.done.load(); ++i) {
            if (ch.try_send(i)) {
                sent.push_back(i);
            } else {
                std::this_thread::yield();
            }
        }
    });
    io.run();
    producer.join();

    std::vector<int> delivered = r.got;
    int v = 0;
    while (ch.try_receive(v)) {
        delivered.push_back(v);
    }
    CHECK(delivered == sent);
    CHECK(r.aborted + static_cast<int>(r.got.size()) == iterations);
}

TEST_CASE("channel: try_send with a limit keeps slots free", "[channel]") {
    ssehub::coro::channel<int> ch(3);
    CHECK(ch.try_send(1, 2));
    CHECK(ch.try_send(2, 2));
    CHECK_FALSE(ch.try_send(3, 2));  // full as far as this producer is concerned
    CHECK(ch.try_send(4));           // the kept slot
    CHECK_FALSE(ch.try_send(5));
    CHECK(ch.size() == 3);
}
