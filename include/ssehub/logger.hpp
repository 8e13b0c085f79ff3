// How the library reports what it cannot hand back to a caller (an exception
// escaping a hook or a background coroutine): a level and a sink, set in
// hub_config::log. The library never prints on its own; without a sink it
// writes "ssehub: <message>" lines to stderr, for errors only.
// Thread safety: Distinct objects: safe. Shared objects: safe to call log()
// from any thread once configured (the sink must be safe to call from the
// hub's threads: strands of the executors the hub runs on).
#pragma once

#include <functional>
#include <string_view>

namespace ssehub {

class logger {
public:
    enum class level { debug, info, warning, error, off };
    using sink_type = std::function<void(level, std::string_view)>;

    // Messages at `min` or above reach `sink` (the default sink: stderr).
    logger(level min = level::error, sink_type sink = {}) : min_(min), sink_(std::move(sink)) {}

    bool enabled(level l) const noexcept { return l != level::off && l >= min_; }
    level min_level() const noexcept { return min_; }

    // Never throws: a sink that throws is ignored for that message.
    void log(level l, std::string_view message) const noexcept;

private:
    level min_;
    sink_type sink_;
};

// "debug", "info", "warning", "error", "off".
std::string_view to_string(logger::level l) noexcept;

}  // namespace ssehub
