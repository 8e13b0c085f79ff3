// How an event travels through a broker (Redis, NATS): a compact JSON object
// (the project's own JSON parser and serializer). The event id is not in it:
// each engine carries the id its broker assigned beside it, so every node
// stamps the same id.
// Thread safety: pure functions, safe from any thread.
#pragma once

#include "ssehub/event.hpp"

#include <chrono>
#include <cstdint>
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

// The system clock in ms since the epoch.
std::int64_t unix_ms() noexcept;

}  // namespace ssehub
