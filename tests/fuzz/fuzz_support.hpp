// Shared by the fuzz targets. FUZZ_CHECK(c): a broken invariant aborts with
// its line, so libFuzzer saves the input as a crash (assert() would vanish
// under NDEBUG).
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(c)                                                             \
    do {                                                                          \
        if (!(c)) {                                                               \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
            std::abort();                                                         \
        }                                                                         \
    } while (0)

namespace fuzz {

// What a conforming SSE parser gives back for data the encoder split into
// lines: CRLF, CR and LF all become LF.
inline std::string normalise_line_ends(std::string_view data) {
    std::string out;
    for (std::size_t i = 0; i < data.size(); ++i) {
        if (data[i] == '\r') {
            out += '\n';
            if (i + 1 < data.size() && data[i + 1] == '\n') ++i;
        } else {
            out += data[i];
        }
    }
    return out;
}

}  // namespace fuzz
