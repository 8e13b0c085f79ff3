// any_replayer: the type-erased handle to a `replayer` that hub_config holds.
// It forwards the awaitable operations and, when the replayer offers the
// synchronous fast path (`sync_replayer`), that path too: the hub asks
// has_sync(), never the replayer's type.
#pragma once

#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>

#include "ssehub/replay/replayer.hpp"

namespace ssehub {

namespace detail {

// Both halves of the fast path, or neither (see sync_replayer).
template <class T>
concept replayer_sync_consistent = replayer_can_store_now<T> == replayer_can_replay_now<T>;

template <class T>
concept erasable_replayer = replayer<T> && replayer_sync_consistent<T>;

}  // namespace detail

// A copyable, type-erased handle to a replayer shared by all copies.
// Thread safety: the handle itself: Distinct objects: safe. Shared objects:
// unsafe. Calls go to the underlying replayer, whose own rules apply.
class any_replayer {
public:
    any_replayer() noexcept = default;  // empty: no replay

    // Takes ownership of a replayer value.
    template <class T>
        requires(!std::same_as<std::remove_cvref_t<T>, any_replayer> &&
                 detail::erasable_replayer<std::remove_cvref_t<T>>)
    any_replayer(T&& r)  // NOLINT(google-explicit-constructor): plugging a store into a config should read naturally
        : impl_(std::make_shared<model<std::remove_cvref_t<T>>>(
              std::make_shared<std::remove_cvref_t<T>>(std::forward<T>(r)))) {}

    // Builds the replayer in place (for one that cannot be moved).
    template <class T, class... Args>
        requires detail::erasable_replayer<T>
    explicit any_replayer(std::in_place_type_t<T>, Args&&... args)
        : impl_(std::make_shared<model<T>>(std::make_shared<T>(std::forward<Args>(args)...))) {}

    // Shares a replayer the caller keeps a handle to.
    template <class T>
        requires detail::erasable_replayer<T>
    any_replayer(std::shared_ptr<T> r) : impl_(r ? std::make_shared<model<T>>(std::move(r)) : nullptr) {}

    explicit operator bool() const noexcept { return impl_ != nullptr; }

    // Precondition for every call below: *this is not empty.

    // The awaitable operations. The handle's replayer is kept alive until the
    // operation completes.
    asio::awaitable<void> async_store(stored_event ev) const { return store_op(impl_, std::move(ev)); }

    asio::awaitable<replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                                const metadata& conn_meta, std::size_t max_events) const {
        return replay_op(impl_, last_id, patterns, conn_meta, max_events);
    }

    // How many events the replayer holds, when it says (sized_replayer);
    // called where its store is (the sequencer strand).
    std::optional<std::size_t> stored_count() const { return impl_->stored_count(); }

    // Whether the replayer offers the synchronous fast path (sync_replayer).
    bool has_sync() const noexcept { return impl_->has_sync(); }

    // The fast path; precondition: has_sync().
    void store_now(stored_event ev) const { impl_->store_now(std::move(ev)); }
    replay_result replay_now(std::string_view last_id, const std::vector<std::string>& patterns,
                             const metadata& conn_meta, std::size_t max_events) const {
        return impl_->replay_now(last_id, patterns, conn_meta, max_events);
    }

private:
    struct base {
        virtual ~base() = default;
        virtual asio::awaitable<void> async_store(stored_event ev) = 0;
        virtual asio::awaitable<replay_result> async_replay(std::string_view last_id,
                                                            const std::vector<std::string>& patterns,
                                                            const metadata& conn_meta, std::size_t max_events) = 0;
        virtual bool has_sync() const noexcept = 0;
        virtual std::optional<std::size_t> stored_count() const = 0;
        virtual void store_now(stored_event ev) = 0;
        virtual replay_result replay_now(std::string_view last_id, const std::vector<std::string>& patterns,
                                         const metadata& conn_meta, std::size_t max_events) = 0;
    };

    template <class T>
    struct model final : base {
        explicit model(std::shared_ptr<T> p) noexcept : impl(std::move(p)) {}
        asio::awaitable<void> async_store(stored_event ev) override { return impl->async_store(std::move(ev)); }
        asio::awaitable<replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                                    const metadata& conn_meta, std::size_t max_events) override {
            return impl->async_replay(last_id, patterns, conn_meta, max_events);
        }
        bool has_sync() const noexcept override { return sync_replayer<T>; }
        std::optional<std::size_t> stored_count() const override {
            if constexpr (sized_replayer<T>) return static_cast<std::size_t>(impl->size());
            else return std::nullopt;
        }
        void store_now(stored_event ev) override {
            if constexpr (sync_replayer<T>) impl->store(std::move(ev));
        }
        replay_result replay_now(std::string_view last_id, const std::vector<std::string>& patterns,
                                 const metadata& conn_meta, std::size_t max_events) override {
            if constexpr (sync_replayer<T>) {
                return impl->replay(last_id, patterns, conn_meta, max_events);
            } else {
                return {};  // unreachable by the precondition; unknown is the safe answer
            }
        }
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

static_assert(replayer<any_replayer>);
static_assert(!sync_replayer<any_replayer>);  // the handle's fast path is store_now/replay_now, asked by has_sync()

}  // namespace ssehub
