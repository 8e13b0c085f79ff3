// One client's event stream, as the application sees it in on_connect and
// on_disconnect: identity, subscribed topics, metadata, the caller's context
// and counters.
// Thread safety: topics and metadata may be changed only inside on_connect;
// the context is read-only; counters are atomic and safe to read from any thread.
#pragma once

#include "ssehub/event.hpp"
#include "ssehub/serve.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ssehub {

class connection {
public:
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // 128-bit random id, 32 lowercase hex digits.
    const std::string& id() const noexcept { return id_; }

    const std::vector<std::string>& topics() const noexcept { return topics_; }
    void set_topics(std::vector<std::string> topics) { topics_ = std::move(topics); }
    void add_topic(std::string topic) { topics_.push_back(std::move(topic)); }

    const ssehub::metadata& metadata() const noexcept {
        static const ssehub::metadata none;
        return metadata_ ? *metadata_ : none;
    }
    void set_metadata(std::string key, std::string value) {
        if (!metadata_) metadata_ = std::make_unique<ssehub::metadata>();
        (*metadata_)[std::move(key)] = std::move(value);
    }

    // What the caller of async_serve passed in serve_options::context (empty
    // for the overloads without options).
    const serve_context& context() const noexcept {
        static const serve_context none;
        return context_ ? *context_ : none;
    }

    std::uint64_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

    // Why the stream ended, as async_serve's outcome will say: final in
    // on_disconnect; client_left while nothing else has been decided.
    serve_reason end_reason() const noexcept {
        const std::uint8_t e = end_.load(std::memory_order_relaxed);
        return e == 0 ? serve_reason::client_left : static_cast<serve_reason>(e - 1);
    }

protected:
    explicit connection(std::string id) : id_(std::move(id)) {}
    ~connection() = default;

    std::string id_;
    std::vector<std::string> topics_;
    std::unique_ptr<ssehub::metadata> metadata_;  // null until set: an empty map is 48 bytes per connection
    std::unique_ptr<const serve_context> context_;  // null when none was given: no cost per connection
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint8_t> end_{0};  // serve_reason + 1 once decided; the first reason given wins
};

}  // namespace ssehub
