#include "ssehub/topic.hpp"

#include "topic_token.hpp"
#include "utf8.hpp"

namespace ssehub::topic {
namespace {

using ssehub::detail::utf8_sequence;

using detail::next_token;

// Validates the common grammar; wildcards: allow whole-token `*` and last `>`.
bool is_valid(std::string_view s, std::size_t max_len, bool wildcards) noexcept {
    if (s.empty() || s.size() > max_len) {
        return false;
    }
    std::size_t token_start = 0;
    bool token_has_wildcard = false;
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            const std::size_t n = utf8_sequence(s, i);
            if (n == 0) {
                return false;
            }
            i += n;
            continue;
        }
        if (c <= 0x20 || c == 0x7F) {  // controls, space (tab/CR/LF/VT/FF are controls)
            return false;
        }
        if (c == '.') {
            if (i == token_start) {
                return false;  // empty token
            }
            if (token_has_wildcard) {
                // Only `*` may be followed by more tokens; `>` must be last.
                if (i - token_start != 1 || s[token_start] != '*') {
                    return false;
                }
            }
            token_start = i + 1;
            token_has_wildcard = false;
        } else if (c == '*' || c == '>') {
            if (!wildcards) {
                return false;
            }
            token_has_wildcard = true;
        }
        ++i;
    }
    if (token_start == s.size()) {
        return false;  // trailing dot
    }
    return !token_has_wildcard || s.size() - token_start == 1;
}

}  // namespace

bool is_valid_pattern(std::string_view pattern, std::size_t max_len) noexcept {
    return is_valid(pattern, max_len, true);
}

bool is_valid_subject(std::string_view subject, std::size_t max_len) noexcept {
    return is_valid(subject, max_len, false);
}

bool matches(std::string_view pattern, std::string_view subject) noexcept {
    // One pass over both strings, a token at a time; i and j sit at token starts.
    const std::size_t pn = pattern.size();
    const std::size_t sn = subject.size();
    if (pn == 0 || sn == 0) {
        return false;
    }
    std::size_t i = 0;
    std::size_t j = 0;
    for (;;) {
        if (pattern[i] == '>' && i + 1 == pn) {
            return j < sn;  // one or more tokens remain
        }
        if (pattern[i] == '*' && (i + 1 == pn || pattern[i + 1] == '.')) {
            ++i;
            while (j < sn && subject[j] != '.') {
                ++j;
            }
        } else {
            for (; i < pn && pattern[i] != '.'; ++i, ++j) {
                if (j == sn || subject[j] != pattern[i]) {
                    return false;
                }
            }
            if (j < sn && subject[j] != '.') {
                return false;  // subject token is longer
            }
        }
        // Both at the end of a token.
        if (i == pn) {
            return j == sn;
        }
        if (j == sn) {
            return false;  // pattern has more tokens
        }
        ++i;
        ++j;
        if (i == pn || j == sn) {
            return false;  // trailing dot: invalid input
        }
    }
}

bool has_wildcard(std::string_view pattern) noexcept {
    std::size_t p = 0;
    while (p != std::string_view::npos) {
        const std::string_view tok = next_token(pattern, p);
        if (tok == "*" || tok == ">") {
            return true;
        }
    }
    return false;
}

}  // namespace ssehub::topic
