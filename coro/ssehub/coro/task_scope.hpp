// task_scope: structured lifetime for coroutines spawned with co_spawn.
// Thread safety: Distinct objects: safe. Shared objects: safe (every member
// may be called from any thread).
#pragma once

#include <ssehub/coro/detail/pending_op.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdio>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace ssehub::coro {

// Owns a set of running coroutines: spawn() starts one, cancel() cancels all,
// join()/async_wait() wait until none is running.
//
// - An exception that escapes a task goes to on_error (default: its what() on
//   stderr), never swallowed; after cancel(), a std::system_error with
//   asio::error::operation_aborted is a normal exit and is not reported.
//   on_error runs on the failing task's executor, possibly concurrently for
//   tasks on different executors, and must not throw.
// - cancel() emits a cancellation signal to every running task, posted to that
//   task's own executor (where Asio requires it to be emitted). Once cancel()
//   has been called the scope is closed: spawn() then does not start the task
//   (its awaitable is destroyed unstarted) and returns false, so a late spawn
//   never delays join().
// - Destroying the scope with tasks running cancels them (as cancel() does)
//   and fails pending async_wait operations with operation_aborted; nothing
//   dangles (tasks hold the shared state, not the scope). An owner whose
//   tasks keep it alive (a task holding a shared_ptr to it) is destroyed
//   inside its last task's end, so this is allowed rather than asserted.
class task_scope {
public:
    using executor_type = asio::any_io_executor;
    using error_handler = std::function<void(std::exception_ptr)>;

    explicit task_scope(executor_type ex, error_handler on_error = {})
        : state_(std::make_shared<state>(std::move(ex), std::move(on_error))) {}

    task_scope(const task_scope&) = delete;
    task_scope& operator=(const task_scope&) = delete;

    ~task_scope() {
        cancel();
        detail::op_queue done;
        {
            std::lock_guard lock(state_->mutex);
            state_->waiters.take_all(done, asio::error::operation_aborted);
        }
        done.post_all();
    }

    executor_type get_executor() const noexcept { return state_->ex; }

    // co_spawns task on ex, bound to the scope's cancellation. Returns false,
    // without starting the task, once cancel() has been called.
    // Note: Asio 1.22's co_spawn may start running the task inline when called
    // from ex's own thread.
    template <class Executor>
        requires std::is_convertible_v<const Executor&, asio::any_io_executor>
    bool spawn(const Executor& ex, asio::awaitable<void> task) {
        auto t = std::make_shared<task_entry>(asio::any_io_executor(ex));
        {
            std::lock_guard lock(state_->mutex);
            if (state_->cancelled) {
                return false;
            }
            t->pos = state_->tasks.insert(state_->tasks.end(), t);
        }
        try {
            asio::co_spawn(ex, std::move(task), asio::bind_cancellation_slot(t->signal.slot(), task_done{state_, t}));
        } catch (...) {
            remove(state_, t);
            throw;
        }
        // cancel() may have run while co_spawn was connecting the slot; it left
        // its request here instead of emitting concurrently with co_spawn.
        asio::cancellation_type pending;
        {
            std::lock_guard lock(state_->mutex);
            t->started = true;
            pending = std::exchange(t->pending, asio::cancellation_type::none);
        }
        if (pending != asio::cancellation_type::none) {
            emit(std::move(t), pending);
        }
        return true;
    }

    bool spawn(asio::awaitable<void> task) { return spawn(state_->ex, std::move(task)); }

    // Emits `type` to every running task (on the task's executor) and closes
    // the scope to new tasks. The default, terminal, is what a coroutine's
    // default cancellation filter lets through.
    void cancel(asio::cancellation_type type = asio::cancellation_type::terminal) {
        std::vector<std::shared_ptr<task_entry>> running;
        {
            std::lock_guard lock(state_->mutex);
            state_->cancelled = true;
            running.reserve(state_->tasks.size());
            for (const auto& t : state_->tasks) {
                if (t->started) {
                    running.push_back(t);
                } else {
                    t->pending = t->pending | type;
                }
            }
        }
        for (auto& t : running) {
            emit(std::move(t), type);
        }
    }

    // Completion signature void(std::error_code): completes (posted) once no
    // task is running, at once if none is. Honours the handler's cancellation
    // slot (terminal/partial/total: completes with operation_aborted; the tasks
    // keep running), so a join can race a deadline timer.
    template <class CompletionToken>
    auto async_wait(CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code)>(initiate_wait{state_}, token);
    }

    // co_await until every task has finished; throws std::system_error if the
    // awaiting coroutine is cancelled first.
    asio::awaitable<void> join() { return async_wait(asio::use_awaitable); }

    // Tasks running now.
    std::size_t size() const {
        std::lock_guard lock(state_->mutex);
        return state_->tasks.size();
    }

    bool is_cancelled() const {
        std::lock_guard lock(state_->mutex);
        return state_->cancelled;
    }

private:
    struct task_entry;
    using task_list = std::list<std::shared_ptr<task_entry>>;

    struct task_entry {
        explicit task_entry(asio::any_io_executor e) : ex(std::move(e)) {}
        asio::cancellation_signal signal;  // bound to the task's co_spawn
        asio::any_io_executor ex;          // where the signal is emitted
        task_list::iterator pos;           // in state::tasks; under state::mutex
        bool started = false;              // co_spawn returned; under state::mutex
        asio::cancellation_type pending = asio::cancellation_type::none;  // requested before started
    };

    struct state {
        state(executor_type e, error_handler h) : ex(std::move(e)), on_error(std::move(h)) {}
        mutable std::mutex mutex;
        executor_type ex;
        error_handler on_error;
        task_list tasks;
        detail::waiting_list waiters;  // async_wait operations
        bool cancelled = false;
    };

    struct wait_op : detail::pending_op {};

    // co_spawn's completion handler; runs on the task's executor.
    struct task_done {
        std::shared_ptr<state> st;
        std::shared_ptr<task_entry> t;
        void operator()(std::exception_ptr e) {
            // The task is over: disconnect co_spawn's cancellation state, so a
            // cancel() emitted later reaches nothing.
            t->signal.slot().clear();
            if (e && !(aborted_by_cancel(*st, e))) {
                report(*st, e);
            }
            remove(st, t);
        }
    };

    struct initiate_wait {
        std::shared_ptr<state> st;
        template <class Handler>
        void operator()(Handler&& handler) const {
            using op_type = detail::handler_op<wait_op, std::decay_t<Handler>, detail::error_only_results>;
            op_type* op = op_type::create(std::forward<Handler>(handler));
            {
                std::lock_guard lock(st->mutex);
                if (!st->tasks.empty()) {
                    try {
                        op->connect_cancellation(st->mutex, st->waiters);
                    } catch (...) {
                        op->destroy();
                        throw;
                    }
                    st->waiters.push_back(op);
                    return;
                }
            }
            op->post();
        }
    };

    static void emit(std::shared_ptr<task_entry> t, asio::cancellation_type type) {
        asio::any_io_executor ex = t->ex;
        asio::post(ex, [t = std::move(t), type] { t->signal.emit(type); });
    }

    static void remove(const std::shared_ptr<state>& st, const std::shared_ptr<task_entry>& t) {
        detail::op_queue done;
        {
            std::lock_guard lock(st->mutex);
            st->tasks.erase(t->pos);
            if (st->tasks.empty()) {
                st->waiters.take_all(done, {});
            }
        }
        done.post_all();
    }

    static bool aborted_by_cancel(state& st, const std::exception_ptr& e) {
        {
            std::lock_guard lock(st.mutex);
            if (!st.cancelled) {
                return false;
            }
        }
        try {
            std::rethrow_exception(e);
        } catch (const std::system_error& error) {
            return error.code() == asio::error::operation_aborted;
        } catch (...) {
            return false;
        }
    }

    static void report(state& st, const std::exception_ptr& e) {
        if (st.on_error) {
            st.on_error(e);
            return;
        }
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& error) {
            std::fprintf(stderr, "ssehub::coro::task_scope: task failed: %s\n", error.what());
        } catch (...) {
            std::fprintf(stderr, "ssehub::coro::task_scope: task failed with a non-standard exception\n");
        }
    }

    std::shared_ptr<state> state_;
};

}  // namespace ssehub::coro
