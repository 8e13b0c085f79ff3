// Topics, NATS style: tokens separated by '.'.
// A subject (what an event is published to) is literal. A pattern (what a
// connection subscribes to) may use whole-token wildcards: `*` matches exactly
// one token, `>` (last token only) matches one or more trailing tokens.
// Invalid everywhere: empty topic, empty tokens ("a..b", ".a", "a."), ASCII
// whitespace or control characters (< 0x20, 0x7f), invalid UTF-8, more than
// max_len bytes. `*` or `>` inside a longer token ("a*", "b>") is invalid, not a
// literal; a subject may not contain `*` or `>` at all. Case-sensitive.
// Thread safety: stateless free functions, safe from any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace ssehub::topic {

inline constexpr std::size_t default_max_len = 256;

bool is_valid_pattern(std::string_view pattern, std::size_t max_len = default_max_len) noexcept;
bool is_valid_subject(std::string_view subject, std::size_t max_len = default_max_len) noexcept;

// Whether a valid `pattern` matches a valid `subject`. No allocation.
// (On invalid input the answer is unspecified, but the call is safe.)
bool matches(std::string_view pattern, std::string_view subject) noexcept;

// Whether `pattern` has a `*` or `>` token.
bool has_wildcard(std::string_view pattern) noexcept;

}  // namespace ssehub::topic
