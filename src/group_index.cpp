#include "group_index.hpp"

namespace ssehub::detail {

void group_index::add(conn_slot slot, const ssehub::metadata& meta) {
    for (const auto& [key, value] : meta) {
        auto k = keys_.find(std::string_view(key));
        if (k == keys_.end()) {
            k = keys_.emplace(key, string_map<slot_set>{}).first;
        }
        auto v = k->second.find(std::string_view(value));
        if (v == k->second.end()) {
            v = k->second.emplace(value, slot_set{}).first;
            ++pairs_;
        }
        v->second.insert(slot);
    }
}

void group_index::remove(conn_slot slot, const ssehub::metadata& meta) {
    for (const auto& [key, value] : meta) {
        auto k = keys_.find(std::string_view(key));
        if (k == keys_.end()) {
            continue;
        }
        auto v = k->second.find(std::string_view(value));
        if (v == k->second.end() || !v->second.erase(slot)) {
            continue;
        }
        if (v->second.empty()) {
            k->second.erase(v);
            --pairs_;
            if (k->second.empty()) {
                keys_.erase(k);
            }
        }
    }
    if (keys_.empty()) {
        keys_ = decltype(keys_)();  // release the bucket array
    }
}

const slot_set* group_index::smallest(const ssehub::metadata& group) const noexcept {
    const slot_set* best = nullptr;
    for (const auto& [key, value] : group) {
        auto k = keys_.find(std::string_view(key));
        if (k == keys_.end()) {
            return nullptr;
        }
        auto v = k->second.find(std::string_view(value));
        if (v == k->second.end()) {
            return nullptr;
        }
        if (best == nullptr || v->second.size() < best->size()) {
            best = &v->second;
        }
    }
    return best;
}

std::size_t group_index::candidate_count(const ssehub::metadata& group) const noexcept {
    const slot_set* set = smallest(group);
    return set != nullptr ? set->size() : 0;
}

bool group_index::matches(const ssehub::metadata& conn, const ssehub::metadata& group) noexcept {
    return ssehub::group_matches(conn, group);
}

}  // namespace ssehub::detail
