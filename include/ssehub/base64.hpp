// base64url (RFC 4648 §5) without padding, as JWTs and ssehub's tickets use it.
// Decoding is strict: '=' padding, characters outside [A-Za-z0-9_-] (including
// '+', '/' and whitespace), a length of 4n+1, and non-zero unused trailing bits
// are all rejected, so every byte string has exactly one accepted encoding.
// Thread safety: stateless free functions, safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ssehub::base64url {

// Length of encode(n bytes).
constexpr std::size_t encoded_size(std::size_t n) noexcept { return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1); }

// Appends the encoding of `bytes` to `out`.
void encode(std::string_view bytes, std::string& out);

inline std::string encode(std::string_view bytes) {
    std::string out;
    encode(bytes, out);
    return out;
}

// Decodes `text` into `out` (replaced). Returns false on any invalid input;
// `out` is then unspecified.
bool decode(std::string_view text, std::string& out);

inline std::optional<std::string> decode(std::string_view text) {
    std::string out;
    if (!decode(text, out)) return std::nullopt;
    return out;
}

}  // namespace ssehub::base64url
