// Type-erased asynchronous operations that wait in an owner's list (a channel,
// a task_scope) and complete by posting to their handler's executor.
// Thread safety: a pending_op is owned by one list at a time; the lists are
// guarded by their owner's mutex. See handler_op for the cancellation contract.
#pragma once

#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/error.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>
#include <asio/recycling_allocator.hpp>
#include <asio/system_executor.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <new>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace ssehub::coro::detail {

// One waiting operation. Its results (ec_, plus whatever a derived class adds)
// are written under the owner's mutex, then post() hands it to its executor.
class pending_op {
public:
    pending_op(const pending_op&) = delete;
    pending_op& operator=(const pending_op&) = delete;

    // Schedules the handler, with this op's results, on the handler's executor
    // (never inline) and gives up ownership: the op frees itself.
    virtual void post() = 0;
    // Frees the op without invoking its handler.
    virtual void destroy() noexcept = 0;

    pending_op* prev_ = nullptr;
    pending_op* next_ = nullptr;
    // True while linked in its owner's waiting_list. Lets a cancellation that
    // arrives after completion return without touching the owner.
    std::atomic<bool> waiting_{false};
    std::error_code ec_;

protected:
    pending_op() = default;
    ~pending_op() = default;
};

// Intrusive FIFO of ops; the caller synchronises.
class op_queue {
public:
    op_queue() = default;
    op_queue(const op_queue&) = delete;
    op_queue& operator=(const op_queue&) = delete;

    bool empty() const noexcept { return head_ == nullptr; }

    void push_back(pending_op* op) noexcept {
        op->next_ = nullptr;
        op->prev_ = tail_;
        if (tail_ != nullptr) {
            tail_->next_ = op;
        } else {
            head_ = op;
        }
        tail_ = op;
    }

    void erase(pending_op* op) noexcept {
        if (op->prev_ != nullptr) {
            op->prev_->next_ = op->next_;
        } else {
            head_ = op->next_;
        }
        if (op->next_ != nullptr) {
            op->next_->prev_ = op->prev_;
        } else {
            tail_ = op->prev_;
        }
        op->prev_ = op->next_ = nullptr;
    }

    pending_op* pop_front() noexcept {
        pending_op* op = head_;
        if (op != nullptr) {
            erase(op);
        }
        return op;
    }

    // Posts every op, in order; call without holding the owner's mutex.
    void post_all() {
        while (pending_op* op = pop_front()) {
            op->post();
        }
    }

    ~op_queue() {
        // Only reached non-empty if post() threw; do not leak the rest.
        while (pending_op* op = pop_front()) {
            op->destroy();
        }
    }

private:
    pending_op* head_ = nullptr;
    pending_op* tail_ = nullptr;
};

// The owner's list of ops waiting for something; keeps pending_op::waiting_ true
// exactly while an op is linked. Guarded by the owner's mutex.
class waiting_list {
public:
    bool empty() const noexcept { return ops_.empty(); }

    void push_back(pending_op* op) noexcept {
        ops_.push_back(op);
        op->waiting_.store(true, std::memory_order_relaxed);
    }

    void erase(pending_op* op) noexcept {
        ops_.erase(op);
        op->waiting_.store(false, std::memory_order_release);
    }

    pending_op* pop_front() noexcept {
        pending_op* op = ops_.pop_front();
        if (op != nullptr) {
            op->waiting_.store(false, std::memory_order_release);
        }
        return op;
    }

    // Moves every waiting op to `out` with error code `ec`.
    void take_all(op_queue& out, std::error_code ec) noexcept {
        while (pending_op* op = pop_front()) {
            op->ec_ = ec;
            out.push_back(op);
        }
    }

private:
    op_queue ops_;
};

// Installed in a handler's cancellation slot while its op waits. Safe against a
// concurrent completion from another thread: it re-checks, under the owner's
// mutex, that the op is still waiting. Like every Asio cancellation handler it
// must not be emitted concurrently with the op's own completion handler (emit
// on the handler's executor), which is what makes clearing the slot safe.
class cancel_waiting {
public:
    cancel_waiting(std::mutex& mutex, waiting_list& list, pending_op* op) noexcept
        : mutex_(&mutex), list_(&list), op_(op) {}

    void operator()(asio::cancellation_type_t type) {
        constexpr auto honoured = asio::cancellation_type::terminal | asio::cancellation_type::partial |
                                  asio::cancellation_type::total;
        if ((type & honoured) == asio::cancellation_type::none) {
            return;
        }
        if (!op_->waiting_.load(std::memory_order_acquire)) {
            return;  // already completed (or its owner is gone): nothing to cancel
        }
        {
            std::lock_guard lock(*mutex_);
            if (!op_->waiting_.load(std::memory_order_relaxed)) {
                return;
            }
            list_->erase(op_);
            op_->ec_ = asio::error::operation_aborted;
        }
        op_->post();
    }

private:
    std::mutex* mutex_;
    waiting_list* list_;
    pending_op* op_;
};

// Results policy for a void(std::error_code) completion.
struct error_only_results {
    static std::tuple<std::error_code> take(pending_op& op) noexcept { return {op.ec_}; }
};

// A pending op that owns a completion handler of type Handler.
// - allocated with the handler's associated allocator (default: Asio's
//   recycling allocator), freed before the upcall;
// - holds outstanding work on the handler's associated executor while it waits;
// - completes by posting to that executor, then clears the cancellation slot
//   it connected, frees itself and invokes the handler with Results::take(*this).
template <class Base, class Handler, class Results>
class handler_op final : public Base {
    using handler_executor = asio::associated_executor_t<Handler, asio::system_executor>;
    using work_executor = std::decay_t<decltype(asio::prefer(
        std::declval<const handler_executor&>(), asio::execution::outstanding_work.tracked))>;
    using allocator_type = typename std::allocator_traits<
        asio::associated_allocator_t<Handler, asio::recycling_allocator<void>>>::template rebind_alloc<handler_op>;
    using alloc_traits = std::allocator_traits<allocator_type>;

public:
    template <class H, class... Args>
    static handler_op* create(H&& handler, Args&&... args) {
        allocator_type alloc(asio::get_associated_allocator(handler, asio::recycling_allocator<void>()));
        handler_op* p = alloc_traits::allocate(alloc, 1);
        try {
            return ::new (static_cast<void*>(p)) handler_op(std::forward<H>(handler), std::forward<Args>(args)...);
        } catch (...) {
            alloc_traits::deallocate(alloc, p, 1);
            throw;
        }
    }

    // Connects a cancel_waiting to the handler's cancellation slot, if it has one.
    // Call before the op becomes visible to other threads.
    void connect_cancellation(std::mutex& mutex, waiting_list& list) {
        slot_ = asio::get_associated_cancellation_slot(handler_);
        if (slot_.is_connected()) {
            slot_.template emplace<cancel_waiting>(mutex, list, this);
        }
    }

    void post() override {
        work_executor ex = work_;  // the posted invoker may free *this before post() returns
        asio::post(ex, invoker(this));
    }

    void destroy() noexcept override {
        allocator_type alloc(asio::get_associated_allocator(handler_, asio::recycling_allocator<void>()));
        this->~handler_op();
        alloc_traits::deallocate(alloc, this, 1);
    }

private:
    template <class H, class... Args>
    explicit handler_op(H&& handler, Args&&... args)
        : Base(std::forward<Args>(args)...),
          handler_(std::forward<H>(handler)),
          work_(asio::prefer(asio::get_associated_executor(handler_, asio::system_executor()),
                             asio::execution::outstanding_work.tracked)) {}

    ~handler_op() = default;

    // Runs on the handler's executor.
    void complete() {
        slot_.clear();
        allocator_type alloc(asio::get_associated_allocator(handler_, asio::recycling_allocator<void>()));
        Handler handler(std::move(handler_));
        auto results = Results::take(static_cast<Base&>(*this));
        work_executor work(std::move(work_));  // keep the work counted until the handler returns
        this->~handler_op();
        alloc_traits::deallocate(alloc, this, 1);
        std::apply(std::move(handler), std::move(results));
    }

    class invoker {
    public:
        explicit invoker(handler_op* op) noexcept : op_(op) {}
        invoker(invoker&& other) noexcept : op_(std::exchange(other.op_, nullptr)) {}
        invoker& operator=(invoker&&) = delete;
        ~invoker() {
            if (op_ != nullptr) {
                op_->destroy();  // the executor dropped us (e.g. its context was destroyed)
            }
        }
        void operator()() { std::exchange(op_, nullptr)->complete(); }

    private:
        handler_op* op_;
    };

    Handler handler_;
    work_executor work_;
    asio::cancellation_slot slot_;
};

}  // namespace ssehub::coro::detail
