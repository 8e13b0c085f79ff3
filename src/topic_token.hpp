// Private: walking a topic token by token, shared by validation, matching,
// the subscription index and pattern_covers.
#pragma once

#include <cstddef>
#include <string_view>

namespace ssehub::detail {

// Splits off the token at `pos`; sets pos past its dot, or to npos after the last one.
inline std::string_view next_token(std::string_view s, std::size_t& pos) noexcept {
    const std::size_t dot = s.find('.', pos);
    std::string_view tok;
    if (dot == std::string_view::npos) {
        tok = s.substr(pos);
        pos = std::string_view::npos;
    } else {
        tok = s.substr(pos, dot - pos);
        pos = dot + 1;
    }
    return tok;
}

}  // namespace ssehub::detail
