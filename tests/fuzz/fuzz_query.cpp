// fuzz_query: http::percent_decode, parse_query, split_list and
// request::query_param on arbitrary text, plus round trips through a strict
// encoder written here: decode(encode(x)) == x for every byte string x, and a
// query re-encoded from parse_query's pairs parses back to the same pairs.
#include "ssehub/http.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"

namespace {

namespace http = ssehub::http;

bool unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

// Percent-encodes every byte outside the unreserved set; ' ' as '+' when asked.
std::string encode(std::string_view in, bool space_as_plus) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : in) {
        if (unreserved(c)) {
            out += static_cast<char>(c);
        } else if (c == ' ' && space_as_plus) {
            out += '+';
        } else {
            out += '%';
            out += hex[c >> 4];
            out += (c & 1) ? hex[c & 15] : static_cast<char>(std::tolower(hex[c & 15]));  // both cases
        }
    }
    return out;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    // percent_decode on arbitrary text.
    std::string out;
    for (const bool plus : {true, false}) {
        if (http::percent_decode(in, out, plus)) {
            FUZZ_CHECK(out.size() <= in.size());
            if (in.find('%') == std::string_view::npos) {
                std::string expect(in);
                if (plus)
                    for (char& c : expect)
                        if (c == '+') c = ' ';
                FUZZ_CHECK(out == expect);
            }
        } else {
            FUZZ_CHECK(in.find('%') != std::string_view::npos);
        }
    }

    // decode(encode(x)) == x, both '+' conventions.
    for (const bool plus : {true, false}) {
        const std::string enc = encode(in, plus);
        FUZZ_CHECK(http::percent_decode(enc, out, /*plus_is_space=*/true));
        FUZZ_CHECK(out == in);
        if (!plus) {
            FUZZ_CHECK(http::percent_decode(enc, out, /*plus_is_space=*/false));
            FUZZ_CHECK(out == in);
        }
    }

    // parse_query: re-encode its pairs and parse again.
    const auto pairs = http::parse_query(in);
    std::string again;
    for (const auto& [k, v] : pairs) {
        if (!again.empty()) again += '&';
        again += encode(k, true);
        again += '=';
        again += encode(v, false);
    }
    const auto pairs2 = http::parse_query(again);
    bool all_empty = !pairs.empty();
    for (const auto& [k, v] : pairs) all_empty = all_empty && k.empty() && v.empty();
    if (!all_empty) FUZZ_CHECK(pairs2 == pairs);

    // query_param agrees with parse_query: when it answers, it is the first
    // parameter of that name (parse_query skips invalid ones, query_param
    // answers nullopt when the first one of that name is invalid).
    http::request req;
    req.method = "GET";
    req.target = "/p?" + std::string(in);
    FUZZ_CHECK(req.query() == in);
    for (std::size_t i = 0; i < pairs.size() && i < 8; ++i) {
        const auto& k = pairs[i].first;
        const auto got = req.query_param(k);
        if (got) {
            std::size_t j = 0;
            while (pairs[j].first != k) ++j;
            FUZZ_CHECK(*got == pairs[j].second);
        }
    }
    http::request clean;
    clean.target = "/p?" + again;
    for (std::size_t i = 0; i < pairs.size() && i < 8; ++i) {
        const auto& k = pairs[i].first;
        const auto got = clean.query_param(k);
        std::size_t j = 0;
        while (pairs[j].first != k) ++j;
        if (!k.empty()) {
            FUZZ_CHECK(got.has_value());
            FUZZ_CHECK(*got == pairs[j].second);
        }
    }

    // split_list: items non-empty, trimmed, comma-free; joining is a fixed point.
    const auto items = http::split_list(in);
    std::string joined;
    for (const auto& item : items) {
        FUZZ_CHECK(!item.empty());
        FUZZ_CHECK(!is_ows(item.front()) && !is_ows(item.back()));
        FUZZ_CHECK(item.find(',') == std::string::npos);
        if (!joined.empty()) joined += ", ";
        joined += item;
    }
    FUZZ_CHECK(http::split_list(joined) == items);
    return 0;
}
