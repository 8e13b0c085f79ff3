// How an event travels through a broker (Redis, NATS): a compact JSON object
// (the project's own JSON parser and serializer). The event id is not in it:
// each engine carries the id its broker assigned beside it, so every node
// stamps the same id.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include "ssehub/event.hpp"
#include "ssehub/replay/replayer.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ssehub {

// {"t":[topics],"y":type,"d":data,"g":{group},"l":"b"|"c","k":key,"x":expires_ms,"r":retry_ms}
// (members left out when empty/default). A TTL becomes an absolute expiry
// (`now_ms` + ttl, system clock in ms) so that every node honours the same deadline.
std::string encode_event(const event& ev, std::int64_t now_ms);

struct decoded_event {
    event ev;                 // id empty; ttl = the time left at `now_ms` (expired: see below)
    std::int64_t expires_ms = 0;  // 0: never
    bool expired = false;     // the deadline passed before now_ms
};
std::optional<decoded_event> decode_event(std::string_view json, std::int64_t now_ms);

// One event a broker stored (`json` as encode_event wrote it, `entry_id`
// the broker's id for it), replayed to a connection: nothing when it does
// not decode, its TTL has passed at `now_ms`, or (after `transform`, when
// set) it does not replay_matches() the connection's patterns and
// metadata; else its frame, with the caller's id when it had one, else
// `entry_id`. The filter every broker replayer (Redis Stream, JetStream)
// applies to each entry it reads.
std::optional<replayed_event> replay_entry(std::string_view json, std::string_view entry_id, std::int64_t now_ms,
                                           const std::vector<std::string>& patterns, const metadata& conn_meta,
                                           const std::function<void(event&)>& transform = {});

// The system clock in ms since the epoch.
std::int64_t unix_ms() noexcept;

}  // namespace ssehub
