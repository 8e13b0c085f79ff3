// Which connections carry which metadata key=value pairs; finds candidate
// connections for an event's group filter (every pair must be present).
// Thread safety: Distinct objects: safe. Shared objects: unsafe (hub strand only).
#pragma once

#include <cstddef>

#include "ssehub/event.hpp"
#include "subscription_index.hpp"  // conn_slot, slot_set, string_map

namespace ssehub::detail {

class group_index {
public:
    group_index() = default;
    group_index(const group_index&) = delete;
    group_index& operator=(const group_index&) = delete;
    group_index(group_index&&) noexcept = default;
    group_index& operator=(group_index&&) noexcept = default;

    // Indexes every pair of `meta` for `slot` (no-op for pairs already there).
    void add(conn_slot slot, const ssehub::metadata& meta);
    // `meta` must be what was passed to add() for this slot.
    void remove(conn_slot slot, const ssehub::metadata& meta);

    // Calls f(conn_slot) for each slot in the smallest (key, value) member set
    // among `group`'s pairs: a superset of the matching slots, so the caller
    // checks matches() on each. Nothing when some pair has no members or when
    // `group` is empty (an empty group matches every connection; the caller
    // routes by topic instead). f must not modify the index.
    template <class F>
    void for_each_candidate(const ssehub::metadata& group, F&& f) const {
        if (const slot_set* set = smallest(group)) {
            for (conn_slot s : set->slots()) {
                f(s);
            }
        }
    }

    // How many slots for_each_candidate would visit (lets the caller pick the
    // cheaper of topic routing and group routing).
    std::size_t candidate_count(const ssehub::metadata& group) const noexcept;

    // Every pair of `group` is in `conn` with an equal value (case-sensitive).
    // A missing key never matches; an empty value matches only an empty value;
    // an empty group matches every connection.
    static bool matches(const ssehub::metadata& conn, const ssehub::metadata& group) noexcept;

    std::size_t pair_count() const noexcept { return pairs_; }  // distinct (key, value) with members
    bool empty() const noexcept { return keys_.empty(); }

private:
    const slot_set* smallest(const ssehub::metadata& group) const noexcept;

    string_map<string_map<slot_set>> keys_;  // key -> value -> members
    std::size_t pairs_ = 0;
};

}  // namespace ssehub::detail
