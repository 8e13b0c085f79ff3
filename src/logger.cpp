#include "ssehub/logger.hpp"

#include <cstdio>
#include <string>

namespace ssehub {

void logger::log(level l, std::string_view message) const noexcept {
    if (!enabled(l)) return;
    if (sink_) {
        try {
            sink_(l, message);
        } catch (...) {
        }
        return;
    }
    std::fprintf(stderr, "ssehub: %.*s\n", static_cast<int>(message.size()), message.data());
}

std::string_view to_string(logger::level l) noexcept {
    switch (l) {
    case logger::level::debug: return "debug";
    case logger::level::info: return "info";
    case logger::level::warning: return "warning";
    case logger::level::error: return "error";
    case logger::level::off: return "off";
    }
    return "unknown";
}

}  // namespace ssehub
