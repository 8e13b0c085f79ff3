// Tests for ssehub::coro::task_scope: join, error reporting, cancellation,
// closing after cancel, and use from other threads.
#include <ssehub/coro/channel.hpp>
#include <ssehub/coro/task_scope.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>
#include "support/polling.hpp"

using ssehub::coro::channel;
using ssehub::coro::task_scope;

namespace {

using test::drain;
using test::run_until;
using test::wait_until;

using namespace std::chrono_literals;

// Collects what on_error receives; callable from any thread.
struct error_log {
    std::mutex mutex;
    std::vector<std::string> messages;

    task_scope::error_handler handler() {
        return [this](std::exception_ptr e) {
            std::string what = "non-standard";
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& error) {
                what = error.what();
            } catch (...) {
            }
            std::lock_guard lock(mutex);
            messages.push_back(what);
        };
    }
    std::vector<std::string> get() {
        std::lock_guard lock(mutex);
        return messages;
    }
};

asio::awaitable<void> take_one(channel<int>& ch, std::atomic<int>& finished) {
    (void)co_await ch.receive();
    ++finished;
}

asio::awaitable<void> throw_after(channel<int>& ch, std::string message) {
    (void)co_await ch.receive();
    throw std::runtime_error(message);
}

asio::awaitable<void> wait_long(std::atomic<int>& aborted) {
    asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
    try {
        co_await timer.async_wait(asio::use_awaitable);
    } catch (const std::system_error& e) {
        if (e.code() == asio::error::operation_aborted) {
            ++aborted;
        }
        throw;
    }
}

asio::awaitable<void> wait_on_channel(channel<int>& ch, std::atomic<int>& aborted) {
    try {
        (void)co_await ch.receive();
    } catch (const std::system_error& e) {
        if (e.code() == asio::error::operation_aborted) {
            ++aborted;
        }
        throw;
    }
}

asio::awaitable<void> join_then(task_scope& scope, bool& joined) {
    co_await scope.join();
    joined = true;
}

asio::awaitable<void> yield_then_count(std::atomic<int>& finished) {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    ++finished;
}

// Sets a flag when destroyed: tells whether a coroutine's frame is gone.
struct lifetime_probe {
    std::shared_ptr<bool> destroyed = std::make_shared<bool>(false);
    lifetime_probe() = default;
    lifetime_probe(const lifetime_probe&) = delete;
    lifetime_probe(lifetime_probe&& o) noexcept : destroyed(std::move(o.destroyed)) {}
    ~lifetime_probe() {
        if (destroyed) {
            *destroyed = true;
        }
    }
};

asio::awaitable<void> never_started(lifetime_probe, bool& ran) {
    ran = true;
    co_return;
}

}  // namespace

TEST_CASE("task_scope: join with no tasks completes, posted", "[task_scope]") {
    asio::io_context io;
    task_scope scope(io.get_executor());
    CHECK(scope.size() == 0);
    bool called = false;
    scope.async_wait(asio::bind_executor(io, [&](std::error_code ec) {
        called = true;
        CHECK_FALSE(ec);
    }));
    CHECK_FALSE(called);
    drain(io);
    CHECK(called);

    bool joined = false;
    asio::co_spawn(io, join_then(scope, joined), [](std::exception_ptr e) { CHECK_FALSE(e); });
    drain(io);
    CHECK(joined);
}

TEST_CASE("task_scope: join waits for every task", "[task_scope]") {
    asio::io_context io;
    error_log errors;
    task_scope scope(io.get_executor(), errors.handler());
    channel<int> ch(8);
    std::atomic<int> finished{0};
    for (int i = 0; i < 3; ++i) {
        CHECK(scope.spawn(take_one(ch, finished)));
    }
    bool joined = false;
    asio::co_spawn(io, join_then(scope, joined), [](std::exception_ptr e) { CHECK_FALSE(e); });
    drain(io);
    CHECK(scope.size() == 3);
    CHECK_FALSE(joined);

    for (int i = 0; i < 3; ++i) {
        CHECK_FALSE(joined);
        REQUIRE(ch.try_send(i));
        drain(io);
        CHECK(finished == i + 1);
    }
    CHECK(joined);
    CHECK(scope.size() == 0);
    CHECK(errors.get().empty());
}

TEST_CASE("task_scope: join also waits for tasks spawned by tasks", "[task_scope]") {
    asio::io_context io;
    task_scope scope(io.get_executor());
    channel<int> ch(8);
    std::atomic<int> finished{0};
    auto parent = [](task_scope& scope, channel<int>& ch, std::atomic<int>& finished) -> asio::awaitable<void> {
        scope.spawn(take_one(ch, finished));
        ++finished;
        co_return;
    };
    scope.spawn(parent(scope, ch, finished));
    bool joined = false;
    asio::co_spawn(io, join_then(scope, joined), [](std::exception_ptr e) { CHECK_FALSE(e); });
    drain(io);
    CHECK(finished == 1);
    CHECK(scope.size() == 1);
    CHECK_FALSE(joined);
    REQUIRE(ch.try_send(1));
    drain(io);
    CHECK(finished == 2);
    CHECK(joined);
}

TEST_CASE("task_scope: exceptions from tasks go to on_error", "[task_scope]") {
    asio::io_context io;
    error_log errors;
    task_scope scope(io.get_executor(), errors.handler());
    channel<int> ch(8);
    scope.spawn(throw_after(ch, "boom"));
    scope.spawn(throw_after(ch, "bang"));
    REQUIRE(ch.try_send(1));
    REQUIRE(ch.try_send(2));
    bool joined = false;
    asio::co_spawn(io, join_then(scope, joined), [](std::exception_ptr e) { CHECK_FALSE(e); });
    drain(io);
    CHECK(joined);
    CHECK(errors.get() == std::vector<std::string>{"boom", "bang"});
}

TEST_CASE("task_scope: without cancel(), operation_aborted is an error like any other", "[task_scope]") {
    asio::io_context io;
    error_log errors;
    task_scope scope(io.get_executor(), errors.handler());
    channel<int> ch(1);
    std::atomic<int> aborted{0};
    scope.spawn(wait_on_channel(ch, aborted));
    drain(io);
    ch.close();  // the task fails with channel_errc::closed
    drain(io);
    CHECK(scope.size() == 0);
    REQUIRE(errors.get().size() == 1);
    CHECK(errors.get()[0] == std::system_error(ssehub::coro::channel_errc::closed).what());
}

TEST_CASE("task_scope: cancel stops tasks blocked on a timer or a channel", "[task_scope]") {
    asio::io_context io;
    error_log errors;
    task_scope scope(io.get_executor(), errors.handler());
    channel<int> ch(4);
    std::atomic<int> aborted{0};
    scope.spawn(wait_long(aborted));
    scope.spawn(wait_on_channel(ch, aborted));
    scope.spawn(wait_on_channel(ch, aborted));
    drain(io);
    CHECK(scope.size() == 3);

    bool joined = false;
    asio::co_spawn(io, join_then(scope, joined), [](std::exception_ptr e) { CHECK_FALSE(e); });
    drain(io);
    CHECK_FALSE(joined);

    scope.cancel();
    CHECK(scope.is_cancelled());
    REQUIRE(run_until(io, [&] { return joined; }));
    CHECK(aborted == 3);
    CHECK(scope.size() == 0);
    CHECK(errors.get().empty());  // operation_aborted after cancel() is a normal exit
}

TEST_CASE("task_scope: a task that fails differently after cancel is still reported", "[task_scope]") {
    asio::io_context io;
    error_log errors;
    task_scope scope(io.get_executor(), errors.handler());
    auto stubborn = []() -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
        try {
            co_await timer.async_wait(asio::use_awaitable);
        } catch (const std::system_error&) {
            throw std::logic_error("cleanup failed");
        }
    };
    scope.spawn(stubborn());
    drain(io);
    scope.cancel();
    REQUIRE(run_until(io, [&] { return scope.size() == 0; }));
    CHECK(errors.get() == std::vector<std::string>{"cleanup failed"});
}

TEST_CASE("task_scope: spawn after cancel does not start the task and does not hang join", "[task_scope]") {
    asio::io_context io;
    task_scope scope(io.get_executor());
    scope.cancel();
    lifetime_probe probe;
    auto destroyed = probe.destroyed;
    bool ran = false;
    CHECK_FALSE(scope.spawn(never_started(std::move(probe), ran)));
    CHECK(*destroyed);  // the unstarted coroutine frame was destroyed
    CHECK(scope.size() == 0);
    bool joined = false;
    asio::co_spawn(io, join_then(scope, joined), [](std::exception_ptr e) { CHECK_FALSE(e); });
    drain(io);
    CHECK(joined);
    CHECK_FALSE(ran);
}

TEST_CASE("task_scope: a join can be cancelled; the tasks keep running", "[task_scope]") {
    asio::io_context io;
    task_scope scope(io.get_executor());
    channel<int> ch(4);
    std::atomic<int> finished{0};
    scope.spawn(take_one(ch, finished));
    asio::cancellation_signal signal;
    bool joined = false;
    std::exception_ptr join_error;
    asio::co_spawn(io, join_then(scope, joined),
                   asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e) { join_error = e; }));
    drain(io);
    signal.emit(asio::cancellation_type::terminal);
    drain(io);
    CHECK_FALSE(joined);
    REQUIRE(join_error);
    CHECK_THROWS_AS(std::rethrow_exception(join_error), std::system_error);
    CHECK(scope.size() == 1);

    REQUIRE(ch.try_send(1));
    drain(io);
    CHECK(finished == 1);
    CHECK(scope.size() == 0);
}

TEST_CASE("task_scope: spawn and cancel from other threads, tasks on two executors", "[task_scope]") {
    asio::io_context io1;
    asio::io_context io2;
    auto work1 = asio::make_work_guard(io1);
    auto work2 = asio::make_work_guard(io2);
    std::thread t1([&] { io1.run(); });
    std::thread t2([&] { io2.run(); });

    error_log errors;
    task_scope scope(io1.get_executor(), errors.handler());
    std::atomic<int> finished{0};
    std::atomic<int> aborted{0};
    constexpr int short_tasks = 200;

    // Spawn from this thread, which runs neither context.
    std::thread spawner([&] {
        auto strand = asio::make_strand(io2);
        for (int i = 0; i < short_tasks; ++i) {
            if (i % 2 == 0) {
                scope.spawn(yield_then_count(finished));
            } else {
                scope.spawn(strand, yield_then_count(finished));
            }
        }
        for (int i = 0; i < 10; ++i) {
            scope.spawn(wait_long(aborted));
            scope.spawn(io2.get_executor(), wait_long(aborted));
        }
    });
    spawner.join();
    CHECK(wait_until([&] { return finished == short_tasks && scope.size() == 20; }));

    std::atomic<bool> joined{false};
    std::atomic<bool> join_failed{false};
    scope.async_wait(asio::bind_executor(io2, [&](std::error_code ec) {
        join_failed = static_cast<bool>(ec);
        joined = true;
    }));
    CHECK_FALSE(joined);
    scope.cancel();  // from a thread that runs neither context
    CHECK(wait_until([&] { return joined.load(); }));
    CHECK_FALSE(join_failed);
    CHECK(aborted == 20);
    CHECK(scope.size() == 0);
    CHECK(errors.get().empty());

    work1.reset();
    work2.reset();
    t1.join();
    t2.join();
}

TEST_CASE("task_scope: cancel racing spawn never leaves a task running", "[task_scope][stress]") {
    for (int round = 0; round < 50; ++round) {
        asio::io_context io;
        auto work = asio::make_work_guard(io);
        std::thread runner([&] { io.run(); });
        task_scope scope(io.get_executor());
        std::atomic<int> aborted{0};
        std::atomic<int> started{0};
        std::thread spawner([&] {
            for (int i = 0; i < 20; ++i) {
                if (scope.spawn(wait_long(aborted))) {
                    ++started;
                }
            }
        });
        scope.cancel();
        spawner.join();
        std::atomic<bool> joined{false};
        scope.async_wait(asio::bind_executor(io, [&](std::error_code) { joined = true; }));
        CHECK(wait_until([&] { return joined.load(); }));
        CHECK(aborted == started);
        work.reset();
        runner.join();
    }
}
