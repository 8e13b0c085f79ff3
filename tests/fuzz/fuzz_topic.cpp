// fuzz_topic: topic::is_valid_pattern / is_valid_subject / matches /
// has_wildcard checked against a reference written here (token split, strict
// UTF-8), pattern_covers checked for soundness, and url_topic's result must be
// a valid subject.
// Input: pattern '\n' subject ['\n' rest]; '\n' is invalid in topics anyway.
#include "ssehub/auth.hpp"
#include "ssehub/topic.hpp"
#include "ssehub/url_topic.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

namespace topic = ssehub::topic;

std::vector<std::string_view> split(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = s.find('.', start);
        out.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (dot == std::string_view::npos) return out;
        start = dot + 1;
    }
}

// RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = s[i];
        std::size_t n;
        std::uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        else if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return false;
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const unsigned char d = s[i + k];
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

bool ref_valid(std::string_view s, bool pattern, std::size_t max_len) {
    if (s.empty() || s.size() > max_len || !valid_utf8(s)) return false;
    for (const unsigned char c : s)
        if (c <= 0x20 || c == 0x7f) return false;  // controls and SP (ASCII whitespace is SP, HT, LF, FF, CR)
    const auto toks = split(s);
    for (std::size_t i = 0; i < toks.size(); ++i) {
        const auto t = toks[i];
        if (t.empty()) return false;
        const bool star = t.find('*') != std::string_view::npos, gt = t.find('>') != std::string_view::npos;
        if (!star && !gt) continue;
        if (!pattern) return false;
        if (t == "*") continue;
        if (t == ">" && i + 1 == toks.size()) continue;
        return false;
    }
    return true;
}

bool ref_matches(std::string_view pattern, std::string_view subject) {
    const auto p = split(pattern), s = split(subject);
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] == ">") return s.size() > i;
        if (i >= s.size()) return false;
        if (p[i] != "*" && p[i] != s[i]) return false;
    }
    return p.size() == s.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::size_t nl = in.find('\n');
    const std::string_view pat = in.substr(0, nl);
    const std::string_view sub = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1, in.find('\n', nl + 1) - nl - 1);

    // url_topic on the whole input, with a small and the default limit.
    for (const std::size_t max_len : {std::size_t{256}, std::size_t{12}}) {
        if (const auto t = ssehub::url_topic(in, max_len)) {
            FUZZ_CHECK(t->size() <= max_len);
            FUZZ_CHECK(topic::is_valid_subject(*t, max_len));
            FUZZ_CHECK(topic::matches(*t, *t));
        }
    }

    const std::size_t lens[] = {topic::default_max_len, 8, pat.size(), pat.size() ? pat.size() - 1 : 0};
    for (const std::size_t max_len : lens) {
        FUZZ_CHECK(topic::is_valid_pattern(pat, max_len) == ref_valid(pat, true, max_len));
        FUZZ_CHECK(topic::is_valid_subject(pat, max_len) == ref_valid(pat, false, max_len));
    }
    const bool vp = topic::is_valid_pattern(pat), vs_as_sub = topic::is_valid_subject(pat);
    const bool vsub = topic::is_valid_subject(sub), vsub_pat = topic::is_valid_pattern(sub);
    FUZZ_CHECK(vsub == ref_valid(sub, false, topic::default_max_len));
    if (vs_as_sub) FUZZ_CHECK(vp);     // a subject is a pattern without wildcards
    if (vsub) FUZZ_CHECK(vsub_pat);

    if (vp) {
        bool wild = false;
        for (const auto t : split(pat)) wild = wild || t == "*" || t == ">";
        FUZZ_CHECK(topic::has_wildcard(pat) == wild);
        FUZZ_CHECK(vs_as_sub == !wild);
    }
    (void)topic::matches(pat, sub);  // safe on anything
    (void)topic::has_wildcard(pat);
    if (vsub) {
        FUZZ_CHECK(topic::matches(sub, sub));
        FUZZ_CHECK(topic::matches(">", sub));
        FUZZ_CHECK(topic::matches("*", sub) == (sub.find('.') == std::string_view::npos));
        if (vp) FUZZ_CHECK(topic::matches(pat, sub) == ref_matches(pat, sub));
    }

    // pattern_covers is sound: covers(a, r) and r matches s => a matches s.
    if (vp && vsub_pat) {
        const bool covers = ssehub::pattern_covers(pat, sub);
        if (covers) FUZZ_CHECK(ssehub::pattern_covers(pat, pat));
        FUZZ_CHECK(ssehub::pattern_covers(sub, sub));
        FUZZ_CHECK(ssehub::pattern_covers(">", sub));
        if (covers && vsub) FUZZ_CHECK(topic::matches(pat, sub));
        if (covers) {
            // Concrete subjects matched by `sub`: replace wildcards by a literal token.
            std::string concrete;
            for (const auto t : split(sub)) {
                if (!concrete.empty()) concrete += '.';
                concrete += (t == "*" || t == ">") ? std::string("x") : std::string(t);
            }
            std::string deeper = concrete + ".y";
            if (topic::is_valid_subject(concrete) && topic::matches(sub, concrete))
                FUZZ_CHECK(topic::matches(pat, concrete));
            if (topic::is_valid_subject(deeper) && topic::matches(sub, deeper))
                FUZZ_CHECK(topic::matches(pat, deeper));
        }
    }
    return 0;
}
