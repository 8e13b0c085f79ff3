// SSE wire encoding (text/event-stream): events, comments, heartbeats.
// Text from callers is encoded so it can never forge another field or event.
// Thread safety: stateless free functions, safe from any thread; a `frame` is
// immutable and may be shared by any number of threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "ssehub/event.hpp"

namespace ssehub {

// One encoded event (or comment), immutable, shared by every receiver.
using frame = std::shared_ptr<const std::string>;

namespace wire {

// error::invalid_event_field when `id` holds CR, LF or NUL (a NUL makes
// browsers ignore the id; CR/LF would end the field).
std::error_code validate_id(std::string_view id) noexcept;

// error::invalid_event_field when `type` holds CR, LF or NUL.
std::error_code validate_type(std::string_view type) noexcept;

// Exact number of bytes encode() appends for these arguments (valid or not).
std::size_t encoded_size(std::string_view id, std::string_view type, std::string_view data,
                         std::optional<std::chrono::milliseconds> retry) noexcept;

// Appends one event to `out`:
//   "id: <id>\n"       when id is non-empty
//   "event: <type>\n"  when type is non-empty
//   "retry: <N>\n"     when retry is set
//   one "data: <line>\n" per line of data ("data:\n" for an empty line), where
//   CRLF, CR and LF all end a line; empty data is one "data:\n"
//   "\n"
// A conforming parser gets back exactly `data` with line breaks normalised to
// LF. Validates first (id, type, retry >= 0); on error appends nothing and
// returns error::invalid_event_field. The views must not point into `out`.
std::error_code encode(std::string_view id, std::string_view type, std::string_view data,
                       std::optional<std::chrono::milliseconds> retry, std::string& out);

// Encodes `ev` (type, data, retry; `id` replaces ev.id, the hub stamps it) into
// a new frame: exactly two allocations (shared string + its exact-size buffer).
// On error `out` is left untouched.
std::error_code make_frame(const ssehub::event& ev, std::string_view id, frame& out);

// ": <line>\n" per line of `text` (CRLF/CR/LF split it, so it cannot end the
// comment and start a field), then "\n". Empty text gives ":\n\n".
// Browsers ignore comments; they keep proxies from closing idle streams.
std::string comment(std::string_view text);

// The shared heartbeat frame ": ping\n\n" (a comment: never carries an id,
// never moves the client's Last-Event-ID). Same object on every call.
frame heartbeat_frame();

// "retry: <N>\n\n": sets the client's reconnection delay without dispatching
// an event. Negative durations are clamped to 0.
std::string retry_field(std::chrono::milliseconds delay);

}  // namespace wire
}  // namespace ssehub
