// How an event travels through Redis: the broker-neutral JSON encoding
// (<ssehub/event_codec.hpp>), the same text in the pub/sub message and in
// the Stream entry. The event id is the Stream entry id that XADD assigned,
// which the pub/sub message carries in front ("<id>\n<json>"), so every node
// stamps the same id.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include "ssehub/event_codec.hpp"

#include <optional>
#include <string_view>

namespace ssehub::redis {

using ssehub::decode_event;
using ssehub::decoded_event;
using ssehub::encode_event;
using ssehub::unix_ms;

// "<id>\n<json>" → the event with its id (a Stream id, or the caller's id
// that the JSON carries as well). nullopt when malformed.
std::optional<decoded_event> decode_message(std::string_view payload, std::int64_t now_ms);

// A Redis Stream id ("1700000000000-3").
bool is_stream_id(std::string_view id) noexcept;

}  // namespace ssehub::redis
