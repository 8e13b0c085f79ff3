#include "subscription_index.hpp"

#include <algorithm>

#include "ssehub/topic.hpp"

namespace ssehub::detail {

// ---- slot_set ----

std::size_t slot_set::find(conn_slot s) const noexcept {
    if (pos_) {
        auto it = pos_->find(s);
        return it == pos_->end() ? slots_.size() : it->second;
    }
    return static_cast<std::size_t>(std::find(slots_.begin(), slots_.end(), s) - slots_.begin());
}

bool slot_set::contains(conn_slot s) const noexcept {
    return find(s) != slots_.size();
}

bool slot_set::insert(conn_slot s) {
    if (contains(s)) {
        return false;
    }
    slots_.push_back(s);
    if (pos_) {
        pos_->emplace(s, static_cast<std::uint32_t>(slots_.size() - 1));
    } else if (slots_.size() > index_above) {
        pos_ = std::make_unique<std::unordered_map<conn_slot, std::uint32_t>>();
        pos_->reserve(slots_.size() * 2);
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            pos_->emplace(slots_[i], static_cast<std::uint32_t>(i));
        }
    }
    return true;
}

bool slot_set::erase(conn_slot s) {
    const std::size_t i = find(s);
    if (i == slots_.size()) {
        return false;
    }
    const conn_slot moved = slots_.back();
    slots_[i] = moved;
    slots_.pop_back();
    if (pos_) {
        pos_->erase(s);
        if (moved != s) {
            (*pos_)[moved] = static_cast<std::uint32_t>(i);
        }
        if (slots_.size() < index_below) {
            pos_.reset();
        }
    }
    if (slots_.empty()) {
        slots_ = std::vector<conn_slot>();  // give the memory back (= {} would keep it)
    } else if (slots_.capacity() > 16 && slots_.size() < slots_.capacity() / 4) {
        slots_.shrink_to_fit();
    }
    return true;
}

// ---- subscription_index ----

void subscription_index::count_insert(const slot_set& set) {
    ++subscriptions_;
    if (set.size() == 1) {
        ++patterns_;
    }
}

void subscription_index::count_erase(const slot_set& set) {
    --subscriptions_;
    if (set.empty()) {
        --patterns_;
    }
}

bool subscription_index::add(std::string_view pattern, conn_slot slot) {
    slot_set* set = nullptr;
    if (!topic::has_wildcard(pattern)) {
        auto it = exact_.find(pattern);
        if (it == exact_.end()) {
            it = exact_.emplace(std::string(pattern), slot_set{}).first;
        }
        set = &it->second;
    } else {
        set = wildcard_set(pattern);
    }
    if (!set->insert(slot)) {
        return false;
    }
    count_insert(*set);
    return true;
}

slot_set* subscription_index::wildcard_set(std::string_view pattern) {
    node* n = &root_;
    std::size_t pos = 0;
    while (pos != std::string_view::npos) {
        const std::string_view tok = next_token(pattern, pos);
        if (tok == ">") {
            return &n->tail;  // valid patterns have `>` last only
        }
        if (tok == "*") {
            if (!n->star) {
                n->star = std::make_unique<node>();
                ++nodes_;
            }
            n = n->star.get();
            continue;
        }
        auto it = n->children.find(tok);
        if (it == n->children.end()) {
            it = n->children.emplace(std::string(tok), std::make_unique<node>()).first;
            ++nodes_;
        }
        n = it->second.get();
    }
    return &n->terminal;
}

const slot_set* subscription_index::members(std::string_view pattern) const {
    if (!topic::has_wildcard(pattern)) {
        auto it = exact_.find(pattern);
        return it == exact_.end() ? nullptr : &it->second;
    }
    const node* n = &root_;
    std::size_t pos = 0;
    while (pos != std::string_view::npos) {
        const std::string_view tok = next_token(pattern, pos);
        if (tok == ">") {
            return n->tail.empty() ? nullptr : &n->tail;
        }
        if (tok == "*") {
            n = n->star.get();
        } else {
            auto it = n->children.find(tok);
            n = it == n->children.end() ? nullptr : it->second.get();
        }
        if (!n) {
            return nullptr;
        }
    }
    return n->terminal.empty() ? nullptr : &n->terminal;
}

bool subscription_index::remove(std::string_view pattern, conn_slot slot) {
    if (!topic::has_wildcard(pattern)) {
        auto it = exact_.find(pattern);
        if (it == exact_.end() || !it->second.erase(slot)) {
            return false;
        }
        count_erase(it->second);
        if (it->second.empty()) {
            exact_.erase(it);
            if (exact_.empty()) {
                exact_ = decltype(exact_)();  // release the bucket array
            }
        }
        return true;
    }
    const std::size_t before = subscriptions_;
    remove_wildcard(root_, pattern, 0, slot);
    return subscriptions_ != before;
}

// Returns whether `n` is empty afterwards (the caller then frees it).
bool subscription_index::remove_wildcard(node& n, std::string_view pattern, std::size_t pos, conn_slot slot) {
    if (pos == std::string_view::npos) {
        if (n.terminal.erase(slot)) {
            count_erase(n.terminal);
        }
        return n.empty();
    }
    const std::string_view tok = next_token(pattern, pos);
    if (tok == ">") {
        if (n.tail.erase(slot)) {
            count_erase(n.tail);
        }
    } else if (tok == "*") {
        if (n.star && remove_wildcard(*n.star, pattern, pos, slot)) {
            n.star.reset();
            --nodes_;
        }
    } else if (auto it = n.children.find(tok); it != n.children.end()) {
        if (remove_wildcard(*it->second, pattern, pos, slot)) {
            n.children.erase(it);
            --nodes_;
            if (n.children.empty()) {
                n.children = decltype(n.children)();  // release the bucket array
            }
        }
    }
    return n.empty();
}

}  // namespace ssehub::detail
