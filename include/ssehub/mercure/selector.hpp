// Mercure topic selectors: what a subscriber (or a token's grant) matches
// topics with. Four kinds: `*` (every topic), an exact topic (byte for byte),
// an RFC 6570 URI template (the released protocol's `topic={...}` selectors)
// and a URL pattern (the draft's `match_urlpattern`). Templates and patterns
// are compiled once to RE2 (linear-time matching, no backtracking); one whose
// compiled program exceeds selector_limits::max_program_size is refused, so a
// crafted selector cannot make every publish expensive. docs/mercure.md.
// Thread safety: selector is an immutable value after parse(); matches() is
// safe from any number of threads. Copies share the compiled program.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace ssehub::mercure {

enum class selector_kind : std::uint8_t { any, exact, uri_template, url_pattern };

// "any", "exact", "uri_template", "url_pattern".
std::string_view to_string(selector_kind k) noexcept;

struct selector_limits {
    std::size_t max_length = 1024;  // bytes of a selector's text; longer: refused
    // RE2 program size (instructions) of a compiled template or pattern;
    // larger: refused. A template like https://example.com/books/{id} is
    // about 40; this leaves room for long ones and refuses pathological ones.
    int max_program_size = 2000;
    // Base URL that relative URL patterns and relative topics are resolved
    // against (the hub's URL, as the Mercure draft asks).
    std::string base_url = "https://localhost/.well-known/mercure";
};

class selector {
public:
    // A selector of `kind` from its text. `*` is the wildcard whatever the
    // kind. nullopt (with *why set) when the text is empty, too long, not
    // valid UTF-8, has control characters, is not a valid template or
    // pattern, or compiles to a program over max_program_size.
    static std::optional<selector> parse(selector_kind kind, std::string_view text, const selector_limits& limits,
                                         std::string* why = nullptr);
    // The kind the released protocol gives a `topic` selector: `*` any, a
    // text with `{` a URI template, else exact.
    static selector_kind released_kind(std::string_view text) noexcept;

    // Whether `topic` is selected. A URL pattern resolves a relative topic
    // against limits.base_url first.
    bool matches(std::string_view topic) const;

    selector_kind kind() const noexcept { return kind_; }
    const std::string& text() const noexcept { return text_; }
    // "<kind>:<text>": equal keys select the same topics (hub topic names are made from it).
    std::string key() const;

private:
    selector_kind kind_ = selector_kind::exact;
    std::string text_;
    std::string base_;                     // url_pattern: the base URL for relative topics
    std::shared_ptr<const re2::RE2> re_;  // uri_template, url_pattern
};

// Whether `s` is valid UTF-8 without C0/C1 controls or DEL (what Mercure
// asks of topics, selectors, ids and types).
bool is_clean_text(std::string_view s) noexcept;

// `topic` resolved against `base` (absolute URL): an absolute topic is kept,
// `//host/x` takes base's scheme, `/x` base's origin, `x` base's directory.
std::string resolve(std::string_view topic, std::string_view base);

// Whether `topic`, resolved against `hub_url`, names the hub's reserved
// namespace: its path (dot segments removed, %XX of unreserved characters
// decoded) is the hub URL's path or below it, whatever the scheme and host.
// Publishers may not publish there (the hub's own events live there).
bool in_reserved_namespace(std::string_view topic, std::string_view hub_url);

}  // namespace ssehub::mercure
