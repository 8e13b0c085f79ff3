// fuzz_json: json::parse (strict, as the daemon's request bodies, JWT
// headers/payloads and ticket values use it) on arbitrary text. On success:
// serialize -> parse succeeds and gives an equal value, and serializing that
// gives the same text (serialize is a fixed point); accessors are safe. The
// allow_duplicate_names variant accepts a superset; a failed parse leaves
// `out` unchanged.
#include "ssehub/json.hpp"
#include "ssehub/json_value.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

namespace json = ssehub::json;

void walk(const json::value& v, int depth) {
    FUZZ_CHECK(depth <= 64);
    switch (v.type()) {
        case json::kind::number: {
            (void)v.as_int64();
            FUZZ_CHECK(!v.number_text().empty());
            break;
        }
        case json::kind::array:
            for (const auto& e : v.as_array()) walk(e, depth + 1);
            break;
        case json::kind::object:
            for (const auto& [k, e] : v.as_object()) {
                FUZZ_CHECK(v.find(k) != nullptr);
                walk(e, depth + 1);
            }
            break;
        default:
            FUZZ_CHECK(!v.is_integer());
            FUZZ_CHECK(v.number_text().empty());
            break;
    }
}

void round_trip(const json::value& v, const json::parse_options& opts) {
    const std::string text = json::serialize(v);
    json::value back;
    std::string err;
    if (!json::parse(text, back, &err, opts)) {
        std::fprintf(stderr, "reparse failed: %s\n", err.c_str());
        FUZZ_CHECK(false);
    }
    FUZZ_CHECK(back == v);
    FUZZ_CHECK(json::serialize(back) == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    json::value v("sentinel");
    std::string err;
    const bool strict = json::parse(in, v, &err);
    if (!strict) {
        FUZZ_CHECK(v == json::value("sentinel"));
        FUZZ_CHECK(!err.empty());
    } else {
        walk(v, 0);
        round_trip(v, {});
    }
    json::parse_options dup;
    dup.allow_duplicate_names = true;
    const auto w = json::parse(in, dup);
    if (strict) FUZZ_CHECK(w && *w == v);
    if (w) round_trip(*w, dup);

    json::parse_options shallow;
    shallow.max_depth = 3;
    shallow.max_bytes = 64;
    if (const auto s = json::parse(in, shallow)) {
        FUZZ_CHECK(in.size() <= 64);
        FUZZ_CHECK(strict && *s == v);
    }
    return 0;
}
