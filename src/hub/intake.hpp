// Private: what travels from publishers to the sequencer (intake_item) and
// from the sequencer to the shards (routed_batch), and the lock-free stack
// each travels through.
#pragma once

#include "lanes.hpp"

#include "ssehub/event.hpp"
#include "ssehub/hub.hpp"
#include "ssehub/wire.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ssehub::detail {

using clock = std::chrono::steady_clock;

inline std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count();
}

// A publish as the sequencer takes it.
struct intake_item {
    event ev;
    std::int64_t published_ns = 0;
    clock::time_point expires = clock::time_point::max();
    publish_completion done;  // may be empty
    bool clear_retained = false;  // hub::clear_retained: ev.topics only
};

// What every shard needs of one event, prepared once by the sequencer (id,
// encoded frame) and shared read-only by the shards.
struct routed_event {
    std::string id;
    frame bytes;  // empty for clear_retained
    std::vector<std::string> topics;
    metadata group;
    priority lane = priority::instant;
    bool retain = false;
    bool clear_retained = false;
    std::shared_ptr<const std::string> coalesce_key;  // coalesced lane only
    std::int64_t published_ns = 0;
    clock::time_point expires = clock::time_point::max();
    // async_publish: each shard adds what it matched; the last one answers.
    struct completion {
        publish_completion done;
        std::atomic<std::size_t> remaining{0};
        std::atomic<std::size_t> matched{0};
        std::string id;
    };
    std::shared_ptr<completion> done;  // may be empty
    void finish(std::size_t matched) const {
        if (!done) return;
        done->matched.fetch_add(matched, std::memory_order_relaxed);
        if (done->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1)
            done->done({}, publish_result{done->id, done->matched.load(std::memory_order_relaxed)});
    }
};

// One drain of the sequencer's intake, in sequence order; every shard gets
// the same batch (one allocation per batch, not per event or per shard).
using routed_batch = std::shared_ptr<const std::vector<routed_event>>;

// A lock-free multi-producer stack. Producers on any thread push with one
// compare-and-swap (no lock shared between producers or with the consumer);
// the consumer takes the whole stack with one exchange and reverses it, so
// each producer's items keep their order.
template <class T>
class intake_stack {
public:
    intake_stack() = default;
    intake_stack(const intake_stack&) = delete;
    intake_stack& operator=(const intake_stack&) = delete;
    ~intake_stack() {
        node* n = head_.exchange(nullptr, std::memory_order_acquire);
        while (n) delete std::exchange(n, n->next);
    }

    // False (item untouched) when `limit` items are already waiting.
    // `was_empty` tells the caller to wake the consumer.
    bool push(T& item, std::size_t limit, bool& was_empty) {
        if (count_.fetch_add(1, std::memory_order_relaxed) >= limit) {
            count_.fetch_sub(1, std::memory_order_relaxed);
            return false;
        }
        node* n;
        try {
            n = new node{std::move(item), nullptr};
        } catch (...) {
            count_.fetch_sub(1, std::memory_order_relaxed);
            throw;
        }
        node* head = head_.load(std::memory_order_relaxed);
        do {
            n->next = head;
        } while (!head_.compare_exchange_weak(head, n, std::memory_order_release, std::memory_order_relaxed));
        was_empty = head == nullptr;
        return true;
    }

    // Moves everything pushed so far to `out`, oldest first (per producer).
    void take(std::vector<T>& out) {
        node* n = head_.exchange(nullptr, std::memory_order_acquire);
        node* fifo = nullptr;  // reversed: oldest first
        std::size_t k = 0;
        while (n) {
            node* next = n->next;
            n->next = fifo;
            fifo = n;
            n = next;
            ++k;
        }
        count_.fetch_sub(k, std::memory_order_relaxed);
        while (fifo) {
            std::unique_ptr<node> owned(std::exchange(fifo, fifo->next));
            try {
                out.push_back(std::move(owned->item));
            } catch (...) {
                while (fifo) delete std::exchange(fifo, fifo->next);
                throw;
            }
        }
    }

    bool empty() const noexcept { return head_.load(std::memory_order_acquire) == nullptr; }
    std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

private:
    struct node {
        T item;
        node* next = nullptr;
    };
    std::atomic<node*> head_{nullptr};
    std::atomic<std::size_t> count_{0};
};

}  // namespace ssehub::detail
