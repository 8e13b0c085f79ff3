// Minimal JSON writing helpers for the payloads ssehub emits.
// Thread safety: stateless, safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace ssehub::json {

// Appends s as a JSON string literal (quotes included). Control characters are
// escaped; invalid UTF-8 sequences become U+FFFD so the output is always valid.
void append_string(std::string& out, std::string_view s);

inline std::string quote(std::string_view s) {
    std::string out;
    append_string(out, s);
    return out;
}

}  // namespace ssehub::json
