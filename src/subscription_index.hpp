// Which connections subscribe to which topic patterns; routes a subject to the
// matching connection slots without scanning all subscriptions.
// Exact patterns live in a hash map (heterogeneous lookup, no allocation per
// lookup); wildcard patterns in a token trie. Routing one subject costs
// O(tokens x matching trie branches + matched slots). Matched slots sit in
// contiguous vectors; add/remove are O(1) amortized even with 10k slots on one
// pattern. Empty entries and trie nodes are freed as soon as they empty.
// Thread safety: Distinct objects: safe. Shared objects: unsafe (hub strand only).
#pragma once

#include "topic_token.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ssehub::detail {

using conn_slot = std::uint32_t;

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class V>
using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

// A set of slots kept in one contiguous vector (in no particular order).
// Small sets find a slot by a linear scan; large ones keep a position index so
// insert and erase stay O(1) (swap-remove).
class slot_set {
public:
    slot_set() = default;
    slot_set(slot_set&&) noexcept = default;
    slot_set& operator=(slot_set&&) noexcept = default;

    bool insert(conn_slot s);  // false when already present
    bool erase(conn_slot s);   // false when absent
    bool contains(conn_slot s) const noexcept;
    bool empty() const noexcept { return slots_.empty(); }
    std::size_t size() const noexcept { return slots_.size(); }
    std::span<const conn_slot> slots() const noexcept { return slots_; }

private:
    static constexpr std::size_t index_above = 32;  // build the index beyond this size
    static constexpr std::size_t index_below = 16;  // drop it below this size

    std::size_t find(conn_slot s) const noexcept;  // position, or size() when absent

    std::vector<conn_slot> slots_;
    std::unique_ptr<std::unordered_map<conn_slot, std::uint32_t>> pos_;
};


class subscription_index {
public:
    subscription_index() = default;
    subscription_index(const subscription_index&) = delete;
    subscription_index& operator=(const subscription_index&) = delete;
    subscription_index(subscription_index&&) noexcept = default;
    subscription_index& operator=(subscription_index&&) noexcept = default;

    // `pattern` must be valid (topic::is_valid_pattern). Adding a (pattern, slot)
    // pair that is already present is a no-op; returns whether it was added.
    bool add(std::string_view pattern, conn_slot slot);
    // Removing an absent pair is a no-op; returns whether it was removed.
    bool remove(std::string_view pattern, conn_slot slot);

    // Calls f(conn_slot) for each slot with a pattern matching `subject` (a
    // valid subject). A slot matching through several patterns is reported
    // once per pattern: the caller dedups. f must not modify the index.
    template <class F>
    void for_each_match(std::string_view subject, F&& f) const {
        visit(subject, [&f](conn_slot s) {
            f(s);
            return true;
        });
    }

    bool any_match(std::string_view subject) const {
        return !visit(subject, [](conn_slot) { return false; });
    }

    // The slots that subscribed exactly `pattern` (a valid pattern, as
    // subscribed: not the ones it matches); null when none. Presence reads it.
    const slot_set* members(std::string_view pattern) const;

    std::size_t pattern_count() const noexcept { return patterns_; }
    std::size_t subscription_count() const noexcept { return subscriptions_; }
    std::size_t trie_node_count() const noexcept { return nodes_; }  // excluding the root
    bool empty() const noexcept { return subscriptions_ == 0; }

private:
    struct node {
        string_map<std::unique_ptr<node>> children;
        std::unique_ptr<node> star;  // `*`
        slot_set tail;               // `>` at this position
        slot_set terminal;           // patterns ending here
        bool empty() const noexcept {
            return children.empty() && !star && tail.empty() && terminal.empty();
        }
    };

    // Calls f(slot) -> bool (false stops) for every match; false when stopped.
    template <class F>
    bool visit(std::string_view subject, F&& f) const {
        if (!exact_.empty()) {
            if (auto it = exact_.find(subject); it != exact_.end()) {
                for (conn_slot s : it->second.slots()) {
                    if (!f(s)) {
                        return false;
                    }
                }
            }
        }
        if (root_.empty() || subject.empty()) {
            return true;
        }
        return visit_node(root_, subject, 0, f);
    }

    // pos: start of the next subject token, or npos when all are consumed.
    template <class F>
    static bool visit_node(const node& n, std::string_view subject, std::size_t pos, F& f) {
        if (pos == std::string_view::npos) {
            for (conn_slot s : n.terminal.slots()) {
                if (!f(s)) {
                    return false;
                }
            }
            return true;
        }
        for (conn_slot s : n.tail.slots()) {  // `>`: one or more tokens remain
            if (!f(s)) {
                return false;
            }
        }
        std::size_t next = pos;
        const std::string_view tok = next_token(subject, next);
        if (!n.children.empty()) {
            if (auto it = n.children.find(tok); it != n.children.end()) {
                if (!visit_node(*it->second, subject, next, f)) {
                    return false;
                }
            }
        }
        if (n.star) {
            return visit_node(*n.star, subject, next, f);
        }
        return true;
    }

    slot_set* wildcard_set(std::string_view pattern);  // creates nodes on the way
    bool remove_wildcard(node& n, std::string_view pattern, std::size_t pos, conn_slot slot);
    void count_insert(const slot_set& set);
    void count_erase(const slot_set& set);

    string_map<slot_set> exact_;
    node root_;
    std::size_t patterns_ = 0;
    std::size_t subscriptions_ = 0;
    std::size_t nodes_ = 0;
};

}  // namespace ssehub::detail
