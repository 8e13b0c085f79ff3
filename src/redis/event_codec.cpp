#include "ssehub/redis/event_codec.hpp"

namespace ssehub::redis {

bool is_stream_id(std::string_view id) noexcept {
    const auto dash = id.find('-');
    if (dash == 0 || dash == std::string_view::npos || dash + 1 == id.size() || dash > 20 || id.size() - dash - 1 > 20)
        return false;
    for (std::size_t i = 0; i < id.size(); ++i)
        if (i != dash && (id[i] < '0' || id[i] > '9')) return false;
    return true;
}

std::optional<decoded_event> decode_message(std::string_view payload, std::int64_t now_ms) {
    const auto nl = payload.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    const std::string_view id = payload.substr(0, nl);
    auto d = decode_event(payload.substr(nl + 1), now_ms);
    // The Stream's id, or the caller's (which the JSON carries too).
    if (!d || (d->ev.id.empty() ? !is_stream_id(id) : d->ev.id != id)) return std::nullopt;
    d->ev.id = std::string(id);
    return d;
}

}  // namespace ssehub::redis
