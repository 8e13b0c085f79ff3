// channel<T>: a bounded, awaitable, multi-producer multi-consumer queue.
// Thread safety: Distinct objects: safe. Shared objects: safe (every member
// may be called from any thread; one mutex, never held while a handler runs).
#pragma once

#include <ssehub/coro/detail/pending_op.hpp>
#include <ssehub/coro/error.hpp>

#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace ssehub::coro {

// A bounded FIFO hand-off between executors, e.g. a hub strand that
// try_send()s frames and a connection writer that co_awaits receive().
//
// - capacity is a limit, not a preallocation: storage is a ring that grows on
//   demand (doubling) up to capacity and is released when a receiver finds the
//   channel empty and starts waiting (or it is closed and drained), so an idle
//   channel holds no heap memory, while a busy consumer that drains with
//   try_receive*() keeps its ring instead of reallocating it every cycle. A
//   value sent while a receiver waits goes straight to that receiver and never
//   touches the ring.
// - Completions are posted to the handler's associated executor (default:
//   asio::system_executor), never run inside the initiating function nor
//   under the channel's lock. A waiting operation keeps work on that executor.
// - async_send/async_receive honour the handler's cancellation slot (terminal,
//   partial and total): the waiting operation completes with
//   asio::error::operation_aborted and nothing is transferred. As with any Asio
//   operation, emit the signal on the handler's executor.
// - close(): senders (pending and new) fail with channel_errc::closed; receivers
//   still get every queued value, then channel_errc::closed.
// - Destroying a channel completes its waiting operations with
//   operation_aborted and drops queued values.
//
// T must be nothrow-movable and default-constructible (an error completion of
// async_receive passes T{}).
template <class T, class Allocator = std::allocator<T>>
class channel {
    static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>,
                  "channel<T> needs a nothrow-movable T");
    static_assert(std::is_default_constructible_v<T>, "channel<T> needs a default-constructible T");

public:
    using value_type = T;
    using allocator_type = Allocator;

    // Throws std::invalid_argument if capacity is 0 or does not fit 32 bits.
    explicit channel(std::size_t capacity, const Allocator& alloc = Allocator())
        : alloc_(alloc), capacity_(checked_capacity(capacity)) {}

    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;

    ~channel() {
        detail::op_queue done;
        {
            std::lock_guard lock(mutex_);
            waiters_.take_all(done, asio::error::operation_aborted);
            clear_ring();
        }
        done.post_all();
    }

    // Queues value, or hands it to a waiting receiver. False (value dropped)
    // when the channel is full or closed.
    bool try_send(T value) { return try_send(std::move(value), capacity_); }

    // Same, but counts the channel as full once `limit` values are queued
    // (limit <= capacity): lets a producer keep slots for other values.
    bool try_send(T value, std::size_t limit) {
        detail::pending_op* woken = nullptr;
        {
            std::lock_guard lock(mutex_);
            if (closed_) {
                return false;
            }
            if (count_ == 0 && !waiters_.empty()) {  // waiters on an empty channel are receivers
                auto* receiver = static_cast<value_op*>(waiters_.pop_front());
                receiver->value_ = std::move(value);
                receiver->ec_ = {};
                woken = receiver;
            } else if (count_ < std::min<std::size_t>(limit, capacity_)) {
                push(std::move(value));
            } else {
                return false;
            }
        }
        if (woken != nullptr) {
            woken->post();
        }
        return true;
    }

    // For a producer that can hand a value over itself when the consumer is
    // idle: queues `value` (moved from) as try_send(value, limit) would,
    // unless nothing is queued and a receiver waits; then leaves both as they
    // are and returns receiver_waiting (the receiver goes on waiting).
    enum class send_result { sent, receiver_waiting, refused };
    send_result try_send_unless_waiting(T& value, std::size_t limit) {
        std::lock_guard lock(mutex_);
        if (closed_) {
            return send_result::refused;
        }
        if (count_ == 0 && !waiters_.empty()) {
            return send_result::receiver_waiting;
        }
        if (count_ >= std::min<std::size_t>(limit, capacity_)) {
            return send_result::refused;
        }
        push(std::move(value));
        return send_result::sent;
    }

    // Takes the oldest queued value. False when nothing is queued (also once
    // closed and drained).
    bool try_receive(T& out) {
        detail::op_queue done;
        {
            std::lock_guard lock(mutex_);
            if (count_ == 0) {
                return false;
            }
            pop(out);
            refill_from_senders(done);
            if (closed_) {
                release_if_empty();
            }
        }
        done.post_all();
        return true;
    }

    // Moves up to max queued values to out, in order, under one lock; returns
    // how many. out must not call back into this channel.
    template <class OutputIt>
    std::size_t try_receive_some(OutputIt out, std::size_t max) {
        detail::op_queue done;
        std::size_t n = 0;
        {
            std::unique_lock lock(mutex_);
            try {
                while (n < max && count_ > 0) {
                    *out = std::move(ring_[head_]);  // pop only once the output took it
                    ++out;
                    drop_front();
                    ++n;
                }
            } catch (...) {
                refill_from_senders(done);
                lock.unlock();
                done.post_all();
                throw;
            }
            refill_from_senders(done);
            if (closed_) {
                release_if_empty();
            }
        }
        done.post_all();
        return n;
    }

    // Completion signature void(std::error_code). Waits for space; fails with
    // channel_errc::closed (value dropped) or operation_aborted.
    template <class CompletionToken>
    auto async_send(T value, CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code)>(initiate_send{this}, token,
                                                                              std::move(value));
    }

    // Completion signature void(std::error_code, T). Waits for a value; fails
    // with channel_errc::closed once closed and drained, or operation_aborted.
    template <class CompletionToken>
    auto async_receive(CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::error_code, T)>(initiate_receive{this}, token);
    }

    // co_await forms; throw std::system_error on failure.
    asio::awaitable<void> send(T value) { return async_send(std::move(value), asio::use_awaitable); }
    asio::awaitable<T> receive() { return async_receive(asio::use_awaitable); }

    // Idempotent.
    void close() {
        detail::op_queue done;
        {
            std::lock_guard lock(mutex_);
            if (closed_) {
                return;
            }
            closed_ = true;
            release_if_empty();
            // Waiters are either all receivers (nothing queued) or all senders
            // (full); both fail now, and queued values stay for receivers.
            waiters_.take_all(done, channel_errc::closed);
        }
        done.post_all();
    }

    bool is_closed() const {
        std::lock_guard lock(mutex_);
        return closed_;
    }

    // Values queued now (not counting values held by waiting senders).
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return count_;
    }

    std::size_t capacity() const noexcept { return capacity_; }

    // Slots of ring storage allocated now; 0 while a receiver waits on the
    // empty channel, and once it is closed and drained.
    std::size_t allocated_slots() const {
        std::lock_guard lock(mutex_);
        return ring_size_;
    }

private:
    // A waiting send (value_ is the value to send) or receive (value_ receives).
    struct value_op : detail::pending_op {
        value_op() = default;
        explicit value_op(T&& v) noexcept : value_(std::move(v)) {}
        T value_{};
    };

    struct receive_results {
        static std::tuple<std::error_code, T> take(value_op& op) noexcept { return {op.ec_, std::move(op.value_)}; }
    };

    struct initiate_send {
        channel* self;
        template <class Handler>
        void operator()(Handler&& handler, T value) const {
            using op_type = detail::handler_op<value_op, std::decay_t<Handler>, detail::error_only_results>;
            self->start_send(op_type::create(std::forward<Handler>(handler), std::move(value)));
        }
    };

    struct initiate_receive {
        channel* self;
        template <class Handler>
        void operator()(Handler&& handler) const {
            using op_type = detail::handler_op<value_op, std::decay_t<Handler>, receive_results>;
            self->start_receive(op_type::create(std::forward<Handler>(handler)));
        }
    };

    template <class Op>
    void start_send(Op* op) {
        detail::op_queue done;
        try {
            std::lock_guard lock(mutex_);
            if (closed_) {
                op->ec_ = channel_errc::closed;
                done.push_back(op);
            } else if (count_ == 0 && !waiters_.empty()) {
                auto* receiver = static_cast<value_op*>(waiters_.pop_front());
                receiver->value_ = std::move(op->value_);
                receiver->ec_ = {};
                done.push_back(receiver);
                done.push_back(op);
            } else if (count_ < capacity_) {
                push(std::move(op->value_));  // may throw std::bad_alloc when the ring grows
                done.push_back(op);
            } else {
                op->connect_cancellation(mutex_, waiters_);
                waiters_.push_back(op);
            }
        } catch (...) {
            op->destroy();
            throw;
        }
        done.post_all();
    }

    template <class Op>
    void start_receive(Op* op) {
        detail::op_queue done;
        {
            std::lock_guard lock(mutex_);
            if (count_ > 0) {
                pop(op->value_);
                refill_from_senders(done);
                if (closed_) {
                    release_if_empty();
                }
                done.push_back(op);
            } else if (closed_) {
                op->ec_ = channel_errc::closed;
                done.push_back(op);
            } else {
                release_if_empty();  // idle: no storage while waiting
                try {
                    op->connect_cancellation(mutex_, waiters_);
                } catch (...) {
                    op->destroy();
                    throw;
                }
                waiters_.push_back(op);
            }
        }
        done.post_all();
    }

    static std::uint32_t checked_capacity(std::size_t capacity) {
        if (capacity == 0 || capacity > std::numeric_limits<std::uint32_t>::max()) {
            throw std::invalid_argument("ssehub::coro::channel: capacity must be in [1, 2^32)");
        }
        return static_cast<std::uint32_t>(capacity);
    }

    // --- ring storage; all under mutex_ ---

    T* slot(std::uint32_t i) noexcept {
        std::uint32_t j = head_ + i;
        if (j >= ring_size_) {
            j -= ring_size_;
        }
        return ring_ + j;
    }

    void push(T&& value) {
        if (count_ == ring_size_) {
            grow();
        }
        ::new (static_cast<void*>(slot(count_))) T(std::move(value));
        ++count_;
    }

    void drop_front() noexcept {
        ring_[head_].~T();
        if (++head_ == ring_size_) {
            head_ = 0;
        }
        --count_;
    }

    void pop(T& out) noexcept {
        out = std::move(ring_[head_]);
        drop_front();
    }

    void grow() {
        // Start near one cache line of elements, then double, up to capacity_.
        constexpr std::uint64_t first = std::max<std::uint64_t>(4, 64 / sizeof(T));
        const std::uint64_t wanted = ring_size_ == 0 ? first : std::uint64_t{ring_size_} * 2;
        const auto size = static_cast<std::uint32_t>(std::min<std::uint64_t>(wanted, capacity_));
        T* fresh = ring_traits::allocate(alloc_, size);
        for (std::uint32_t i = 0; i < count_; ++i) {
            T* old = slot(i);
            ::new (static_cast<void*>(fresh + i)) T(std::move(*old));
            old->~T();
        }
        if (ring_ != nullptr) {
            ring_traits::deallocate(alloc_, ring_, ring_size_);
        }
        ring_ = fresh;
        ring_size_ = size;
        head_ = 0;
    }

    void release_if_empty() noexcept {
        if (count_ == 0 && ring_ != nullptr) {
            ring_traits::deallocate(alloc_, ring_, ring_size_);
            ring_ = nullptr;
            ring_size_ = 0;
            head_ = 0;
        }
    }

    void clear_ring() noexcept {
        while (count_ > 0) {
            drop_front();
        }
        release_if_empty();
    }

    // After a receive freed slots: waiters on a non-empty channel are senders;
    // move their values in (no growth: the ring was full) and complete them.
    void refill_from_senders(detail::op_queue& done) noexcept {
        while (count_ < capacity_ && !waiters_.empty()) {
            auto* sender = static_cast<value_op*>(waiters_.pop_front());
            ::new (static_cast<void*>(slot(count_))) T(std::move(sender->value_));
            ++count_;
            sender->ec_ = {};
            done.push_back(sender);
        }
    }

    using ring_alloc = typename std::allocator_traits<Allocator>::template rebind_alloc<T>;
    using ring_traits = std::allocator_traits<ring_alloc>;

    mutable std::mutex mutex_;
    [[no_unique_address]] ring_alloc alloc_;
    T* ring_ = nullptr;
    std::uint32_t ring_size_ = 0;  // allocated slots
    std::uint32_t head_ = 0;
    std::uint32_t count_ = 0;  // queued values
    const std::uint32_t capacity_;
    detail::waiting_list waiters_;  // all receivers (count_ == 0) or all senders (count_ == capacity_)
    bool closed_ = false;
};

}  // namespace ssehub::coro
