// Replay of missed events (Last-Event-ID): the `replayer` concept, a
// type-erased handle (any_replayer) the hub stores, and the built-in bounded
// in-memory ring (memory_replayer).
//
// A replayer stores every event the hub routes (already encoded, with its
// topics and group) and, for a reconnecting client, returns the stored events
// after the client's last id that match its subscription patterns AND its
// metadata (an event's group must be a subset of the connection's metadata, so
// a tenant never receives another tenant's replay). An id the store does not
// know (never seen, evicted, expired) gives known = false: the hub then tells
// the client to refetch (`resync`) instead of staying silent.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ssehub/event.hpp"
#include "ssehub/wire.hpp"

namespace ssehub {

struct stored_event {
    std::string id;                     // the id the frame carries (what clients send back as Last-Event-ID)
    frame bytes;                        // the encoded event, shared with live delivery
    std::vector<std::string> topics;    // literal topics; empty: a group-only event
    metadata group;                     // connections must have every pair
    std::chrono::steady_clock::time_point at{};  // when it was stored (age eviction)
    // The event's TTL deadline: not replayed after it. max(): never expires.
    std::chrono::steady_clock::time_point expires = std::chrono::steady_clock::time_point::max();
};

struct replay_result {
    bool known = false;          // false: last id unknown or evicted → the hub sends `resync`
    std::vector<frame> frames;   // the matching events after last id, oldest first
    bool truncated = false;      // more matching events existed than max_events
};

namespace detail {

// Split so that a diagnostic names the operation a type lacks.
template <class T>
concept replayer_can_store = requires(T& t, stored_event ev) {
    { t.async_store(std::move(ev)) } -> std::same_as<asio::awaitable<void>>;
};

template <class T>
concept replayer_can_replay = requires(T& t, std::string_view last_id, const std::vector<std::string>& patterns,
                                       const metadata& conn_meta, std::size_t max_events) {
    { t.async_replay(last_id, patterns, conn_meta, max_events) } -> std::same_as<asio::awaitable<replay_result>>;
};

}  // namespace detail

// T stores events and replays them:
//   co_await t.async_store(stored_event)                                   -> void
//   co_await t.async_replay(last_id, patterns, conn_meta, max_events)      -> replay_result
// The arguments of async_replay must stay valid until it completes (true
// when the result is co_awaited in the same expression).
template <class T>
concept replayer = detail::replayer_can_store<T> && detail::replayer_can_replay<T>;

// A copyable, type-erased handle to a replayer shared by all copies.
// Thread safety: the handle itself: Distinct objects: safe. Shared objects:
// unsafe. Calls go to the underlying replayer, whose own rules apply.
class any_replayer {
public:
    any_replayer() noexcept = default;  // empty: no replay

    // Takes ownership of a replayer value.
    template <class T>
        requires(!std::same_as<std::remove_cvref_t<T>, any_replayer> && replayer<std::remove_cvref_t<T>>)
    any_replayer(T&& r)  // NOLINT(google-explicit-constructor): plugging a store into a config should read naturally
        : impl_(std::make_shared<model<std::remove_cvref_t<T>>>(
              std::make_shared<std::remove_cvref_t<T>>(std::forward<T>(r)))) {}

    // Builds the replayer in place.
    template <replayer T, class... Args>
    explicit any_replayer(std::in_place_type_t<T>, Args&&... args)
        : impl_(std::make_shared<model<T>>(std::make_shared<T>(std::forward<Args>(args)...))) {}

    // Shares a replayer the caller keeps a handle to.
    template <replayer T>
    any_replayer(std::shared_ptr<T> r) : impl_(r ? std::make_shared<model<T>>(std::move(r)) : nullptr) {}

    explicit operator bool() const noexcept { return impl_ != nullptr; }

    // The underlying replayer if it is a T, else nullptr (lets the hub use a
    // memory_replayer's synchronous calls).
    template <class T>
    T* target() const noexcept {
        return impl_ && impl_->type() == typeid(T) ? static_cast<T*>(impl_->object()) : nullptr;
    }

    // Precondition: *this is not empty. The handle's replayer is kept alive
    // until the operation completes.
    asio::awaitable<void> async_store(stored_event ev) const { return store_op(impl_, std::move(ev)); }

    asio::awaitable<replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                                const metadata& conn_meta, std::size_t max_events) const {
        return replay_op(impl_, last_id, patterns, conn_meta, max_events);
    }

private:
    struct base {
        virtual ~base() = default;
        virtual asio::awaitable<void> async_store(stored_event ev) = 0;
        virtual asio::awaitable<replay_result> async_replay(std::string_view last_id,
                                                            const std::vector<std::string>& patterns,
                                                            const metadata& conn_meta, std::size_t max_events) = 0;
        virtual const std::type_info& type() const noexcept = 0;
        virtual void* object() const noexcept = 0;
    };

    template <class T>
    struct model final : base {
        explicit model(std::shared_ptr<T> p) noexcept : impl(std::move(p)) {}
        asio::awaitable<void> async_store(stored_event ev) override { return impl->async_store(std::move(ev)); }
        asio::awaitable<replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                                    const metadata& conn_meta, std::size_t max_events) override {
            return impl->async_replay(last_id, patterns, conn_meta, max_events);
        }
        const std::type_info& type() const noexcept override { return typeid(T); }
        void* object() const noexcept override { return impl.get(); }
        std::shared_ptr<T> impl;
    };

    // Coroutines taking the shared_ptr by value: the replayer outlives the call
    // even if every handle is dropped meanwhile.
    static asio::awaitable<void> store_op(std::shared_ptr<base> p, stored_event ev) {
        co_await p->async_store(std::move(ev));
    }
    static asio::awaitable<replay_result> replay_op(std::shared_ptr<base> p, std::string_view last_id,
                                                    const std::vector<std::string>& patterns,
                                                    const metadata& conn_meta, std::size_t max_events) {
        co_return co_await p->async_replay(last_id, patterns, conn_meta, max_events);
    }

    std::shared_ptr<base> impl_;
};

struct memory_replayer_config {
    std::size_t max_events = 1000;  // ring size; the oldest event is evicted beyond it (0: store nothing)
    std::chrono::milliseconds max_age{std::chrono::minutes(5)};  // older events are evicted; 0: no age limit
    // Clock for age checks, same epoch as stored_event::at; empty: steady_clock::now (tests inject).
    std::function<std::chrono::steady_clock::time_point()> clock;
};

// The built-in replayer: a bounded ring of the newest events with an index
// from id to position, so finding the resume point is O(1), not a scan.
// Replay cost: O(events stored after the resume point), at most max_events.
// The synchronous store()/replay() are for the hub, which calls them on its
// strand so that registering a connection and taking its replay snapshot
// happen at one point; the awaitable forms satisfy `replayer` and wrap them.
// Thread safety: not synchronised. Distinct objects: safe. Shared objects:
// unsafe (use it from the hub strand only).
class memory_replayer {
public:
    explicit memory_replayer(memory_replayer_config config = {});
    // Movable, not copyable: the index points into the ring's elements, which
    // a move keeps in place (std::deque moves its blocks, not its elements).
    memory_replayer(memory_replayer&&) = default;
    memory_replayer& operator=(memory_replayer&&) = default;
    memory_replayer(const memory_replayer&) = delete;
    memory_replayer& operator=(const memory_replayer&) = delete;

    // Appends `ev`, evicting by age, then by count. An event whose id repeats
    // an older one becomes the resume point for that id. An empty id is stored
    // (it is replayed after older ids) but cannot be resumed from.
    void store(stored_event ev);

    // The stored events after `last_id` whose topics match a pattern (any
    // pattern matching any topic, topic::matches) and whose group matches
    // conn_meta; an event without topics matches by its (non-empty) group
    // alone. Expired events (max_age, TTL) are skipped; an expired or unknown
    // last_id gives known = false. At most max_events frames, in store order;
    // truncated when more matched.
    replay_result replay(std::string_view last_id, const std::vector<std::string>& patterns,
                         const metadata& conn_meta, std::size_t max_events) const;

    asio::awaitable<void> async_store(stored_event ev);
    asio::awaitable<replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                                const metadata& conn_meta, std::size_t max_events);

    std::size_t size() const noexcept { return ring_.size(); }
    const memory_replayer_config& config() const noexcept { return cfg_; }

private:
    std::chrono::steady_clock::time_point now() const;
    bool too_old(const stored_event& ev, std::chrono::steady_clock::time_point now) const noexcept;
    void evict_front();

    memory_replayer_config cfg_;
    std::deque<stored_event> ring_;  // oldest first; ring_[i] has sequence first_seq_ + i
    std::uint64_t first_seq_ = 0;
    // id -> sequence. Keys view the ids inside ring_ (stable: a deque never
    // relocates elements on push_back/pop_front), so an id is stored once.
    std::unordered_map<std::string_view, std::uint64_t> index_;
};

static_assert(replayer<memory_replayer>);

}  // namespace ssehub
