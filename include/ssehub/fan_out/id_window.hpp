// The last N event ids a subscriber has seen, to drop the copies a broker
// delivers once per matching subscription (an event on two channels, a node
// subscribed to a topic and to everything). Header-only.
// Thread safety: Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>

namespace ssehub {

class id_window {
public:
    explicit id_window(std::size_t size) : size_(size) {}

    // True the first time `id` is seen within the window (always with size 0).
    bool first(std::string_view id) {
        if (size_ == 0) return true;
        std::string key(id);
        if (!seen_.insert(key).second) return false;
        order_.push_back(std::move(key));
        if (order_.size() > size_) {
            seen_.erase(order_.front());
            order_.pop_front();
        }
        return true;
    }

private:
    std::size_t size_;
    std::unordered_set<std::string> seen_;
    std::deque<std::string> order_;
};

}  // namespace ssehub
