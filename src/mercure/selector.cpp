#include "ssehub/mercure/selector.hpp"

#include "ascii.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <vector>

namespace ssehub::mercure {
namespace {

bool invalid(std::string* why, std::string message) {
    if (why) *why = std::move(message);
    return false;
}

// Characters an RFC 6570 expansion may produce: unreserved (simple, label,
// path, parameters) or unreserved + reserved (`+` and `#`), each also as %XX.
constexpr std::string_view unreserved_class = "(?:[A-Za-z0-9\\-._~]|%[0-9A-Fa-f]{2})";
constexpr std::string_view reserved_class = "(?:[A-Za-z0-9\\-._~:/?#\\[\\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})";

bool varname_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '%';
}

// One `{...}` expression (without braces) as a regex: an optional prefix,
// then items joined by the operator's separator (or `,`, for lists). Values
// are not captured: matching only needs to know whether some expansion
// of the template produces the topic.
bool template_expression(std::string_view expr, std::string& out, std::string* why) {
    if (expr.empty()) return invalid(why, "empty expression {}");
    char op = 0;
    if (std::string_view("+#./;?&").find(expr[0]) != std::string_view::npos) {
        op = expr[0];
        expr.remove_prefix(1);
    } else if (std::string_view("=,!@|").find(expr[0]) != std::string_view::npos) {
        return invalid(why, std::string("reserved operator '") + expr[0] + "'");
    }
    // Validate the variable list: name[:n] or name*, comma-separated.
    std::size_t vars = 0;
    for (std::size_t start = 0; start <= expr.size();) {
        std::size_t end = expr.find(',', start);
        if (end == std::string_view::npos) end = expr.size();
        std::string_view spec = expr.substr(start, end - start);
        if (spec.ends_with('*')) spec.remove_suffix(1);
        else if (auto colon = spec.find(':'); colon != std::string_view::npos) {
            const auto digits = spec.substr(colon + 1);
            if (digits.empty() || digits.size() > 4 || digits.find_first_not_of("0123456789") != std::string_view::npos)
                return invalid(why, "bad prefix modifier in {" + std::string(expr) + "}");
            spec = spec.substr(0, colon);
        }
        if (spec.empty()) return invalid(why, "empty variable name in an expression");
        for (char c : spec)
            if (!varname_char(c)) return invalid(why, "bad variable name '" + std::string(spec) + "'");
        ++vars;
        start = end + 1;
    }
    (void)vars;
    const bool reserved = op == '+' || op == '#';
    const std::string chars(reserved ? reserved_class : unreserved_class);
    const bool named = op == ';' || op == '?' || op == '&';
    std::string prefix, sep = ",";
    switch (op) {
    case '#': prefix = "#"; break;
    case '.': prefix = "\\."; sep = "\\."; break;
    case '/': prefix = "/"; sep = "/"; break;
    case ';': prefix = ";"; sep = ";"; break;
    case '?': prefix = "\\?"; sep = "&"; break;
    case '&': prefix = "&"; sep = "&"; break;
    default: break;
    }
    const std::string item = named ? "[A-Za-z0-9_.%]+(?:=(?:" + chars + "|,)*)?" : "(?:" + chars + ")*";
    const std::string separator = sep == "," ? std::string(",") : "(?:" + sep + "|,)";
    out += "(?:" + prefix + item + "(?:" + separator + item + ")*)?";
    return true;
}

bool template_regex(std::string_view t, std::string& out, std::string* why) {
    for (std::size_t i = 0; i < t.size();) {
        if (t[i] == '{') {
            const auto close = t.find('}', i);
            if (close == std::string_view::npos) return invalid(why, "unclosed { in the URI template");
            if (!template_expression(t.substr(i + 1, close - i - 1), out, why)) return false;
            i = close + 1;
        } else if (t[i] == '}') {
            return invalid(why, "unmatched } in the URI template");
        } else {
            out += RE2::QuoteMeta(re2::StringPiece(&t[i], 1));
            ++i;
        }
    }
    return true;
}

// The `)` closing the `(` at `open` (nested groups, `\x` escapes and
// character classes skipped); npos when unbalanced.
std::size_t closing_paren(std::string_view p, std::size_t open) {
    int depth = 0;
    bool in_class = false;
    for (std::size_t i = open; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\') {
            ++i;
        } else if (in_class) {
            in_class = c != ']';
        } else if (c == '[') {
            in_class = true;
        } else if (c == '(') {
            ++depth;
        } else if (c == ')' && --depth == 0) {
            return i;
        }
    }
    return std::string_view::npos;
}

bool name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '$'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

// A URL pattern (the URL Pattern standard's string syntax, matched against
// the whole URL): `:name` one segment (in the host: one label), `*` anything,
// `(regex)` a custom group (RE2 syntax), `{...}` a group, each optionally
// followed by `?`, `*` or `+`; `\x` a literal x; everything else literal. A
// segment group right after `/` takes the `/` into its group, so `/:id?`
// also matches nothing at all, as in the standard.
bool pattern_regex(std::string_view p, std::string& out, std::string* why, int depth = 0) {
    if (depth > 4) return invalid(why, "groups nested too deeply");
    const auto scheme_end = p.find("://");
    std::size_t host_end = std::string_view::npos;
    if (scheme_end != std::string_view::npos && depth == 0) {
        host_end = p.find('/', scheme_end + 3);
        if (host_end == std::string_view::npos) host_end = p.size();
    }
    std::size_t last_literal_slash = std::string::npos;  // size of `out` before a just-written "/"
    for (std::size_t i = 0; i < p.size();) {
        const char c = p[i];
        std::string group;
        bool is_group = false;
        const bool in_host = host_end != std::string_view::npos && i > scheme_end + 2 && i < host_end;
        if (c == '\\') {
            if (i + 1 >= p.size()) return invalid(why, "a trailing \\ in the URL pattern");
            out += RE2::QuoteMeta(re2::StringPiece(&p[i + 1], 1));
            last_literal_slash = std::string::npos;
            i += 2;
            continue;
        }
        if (c == ':' && i + 1 < p.size() && name_start(p[i + 1])) {
            std::size_t j = i + 1;
            while (j < p.size() && name_char(p[j])) ++j;
            if (j < p.size() && p[j] == '(') {
                const auto close = closing_paren(p, j);
                if (close == std::string_view::npos) return invalid(why, "unclosed ( in the URL pattern");
                group = "(?:" + std::string(p.substr(j + 1, close - j - 1)) + ")";
                j = close + 1;
            } else {
                group = in_host ? "[^./?#]+" : "[^/?#]+";
            }
            is_group = true;
            i = j;
        } else if (c == '(') {
            const auto close = closing_paren(p, i);
            if (close == std::string_view::npos) return invalid(why, "unclosed ( in the URL pattern");
            group = "(?:" + std::string(p.substr(i + 1, close - i - 1)) + ")";
            is_group = true;
            i = close + 1;
        } else if (c == '*') {
            group = ".*";
            is_group = true;
            ++i;
        } else if (c == '{') {
            const auto close = p.find('}', i);
            if (close == std::string_view::npos) return invalid(why, "unclosed { in the URL pattern");
            std::string inner;
            if (!pattern_regex(p.substr(i + 1, close - i - 1), inner, why, depth + 1)) return false;
            group = "(?:" + inner + ")";
            is_group = true;
            i = close + 1;
        }
        if (!is_group) {
            last_literal_slash = c == '/' ? out.size() : std::string::npos;
            out += RE2::QuoteMeta(re2::StringPiece(&p[i], 1));
            ++i;
            continue;
        }
        char modifier = 0;
        if (i < p.size() && (p[i] == '?' || p[i] == '*' || p[i] == '+')) modifier = p[i++];
        if (modifier == 0) {
            out += group;
        } else {
            std::string prefix;
            if (last_literal_slash != std::string::npos) {
                out.resize(last_literal_slash);
                prefix = "/";
            }
            out += "(?:" + prefix + group + ")" + modifier;
        }
        last_literal_slash = std::string::npos;
    }
    return true;
}

std::size_t scheme_length(std::string_view s) {
    if (s.empty() || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z'))) return 0;
    for (std::size_t i = 1; i < s.size(); ++i) {
        const char c = s[i];
        if (c == ':') return i;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
            return 0;
    }
    return 0;
}

}  // namespace

std::string_view to_string(selector_kind k) noexcept {
    switch (k) {
    case selector_kind::any: return "any";
    case selector_kind::exact: return "exact";
    case selector_kind::uri_template: return "uri_template";
    case selector_kind::url_pattern: return "url_pattern";
    }
    return "?";
}

bool is_clean_text(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return false;
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
        if (n == 0 || i + n > s.size()) return false;
        std::uint32_t cp = c & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
        for (std::size_t k = 1; k < n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        if (cp >= 0x80 && cp <= 0x9f) return false;  // C1 controls
        i += n;
    }
    return true;
}

std::string resolve(std::string_view topic, std::string_view base) {
    if (scheme_length(topic) > 0) return std::string(topic);
    const std::size_t sl = scheme_length(base);
    if (topic.starts_with("//")) return std::string(base.substr(0, sl + 1)) + std::string(topic);
    const std::size_t host_start = base.find("//") == sl + 1 ? sl + 3 : sl + 1;
    std::size_t path_start = base.find('/', host_start);
    if (path_start == std::string_view::npos) path_start = base.size();
    if (topic.starts_with('/')) return std::string(base.substr(0, path_start)) + std::string(topic);
    std::string_view dir = base.substr(0, base.find_first_of("?#"));
    const auto last = dir.rfind('/');
    dir = last == std::string_view::npos || last < path_start ? base.substr(0, path_start) : dir.substr(0, last);
    return std::string(dir) + "/" + std::string(topic);
}

namespace {

// The path of an absolute URL (after scheme://authority, before ? or #).
std::string_view path_of(std::string_view url) {
    const std::size_t sl = scheme_length(url);
    std::size_t at = sl + 1;
    if (url.substr(at, 2) == "//") {
        at = url.find_first_of("/?#", at + 2);
        if (at == std::string_view::npos) return {};
    }
    const auto end = url.find_first_of("?#", at);
    return url.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
}

// %XX of unreserved characters decoded (others kept, hex upper-cased), then
// RFC 3986's remove_dot_segments.
std::string normalized_path(std::string_view path) {
    std::string decoded;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '%' && i + 2 < path.size() && ssehub::detail::ascii::hex_value(path[i + 1]) >= 0 && ssehub::detail::ascii::hex_value(path[i + 2]) >= 0) {
            const char c = static_cast<char>(ssehub::detail::ascii::hex_value(path[i + 1]) * 16 + ssehub::detail::ascii::hex_value(path[i + 2]));
            const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                    c == '-' || c == '.' || c == '_' || c == '~';
            if (unreserved) {
                decoded.push_back(c);
                i += 2;
                continue;
            }
        }
        decoded.push_back(path[i]);
    }
    std::vector<std::string> segments;
    std::size_t from = decoded.starts_with('/') ? 1 : 0;
    bool trailing = false;
    while (from <= decoded.size()) {
        auto slash = decoded.find('/', from);
        if (slash == std::string::npos) slash = decoded.size();
        const std::string seg = decoded.substr(from, slash - from);
        trailing = seg == "." || seg == "..";
        if (seg == "..") {
            if (!segments.empty()) segments.pop_back();
        } else if (seg != ".") {
            segments.push_back(seg);
        }
        from = slash + 1;
    }
    std::string out;
    for (const auto& seg : segments) out += "/" + seg;
    if (trailing) out += "/";
    return out;
}

}  // namespace

bool in_reserved_namespace(std::string_view topic, std::string_view hub_url) {
    const std::string t = normalized_path(path_of(resolve(topic, hub_url)));
    std::string hub = normalized_path(path_of(hub_url));
    while (hub.size() > 1 && hub.back() == '/') hub.pop_back();
    return t == hub || t.starts_with(hub + "/");
}

selector_kind selector::released_kind(std::string_view text) noexcept {
    if (text == "*") return selector_kind::any;
    return text.find('{') != std::string_view::npos ? selector_kind::uri_template : selector_kind::exact;
}

std::optional<selector> selector::parse(selector_kind kind, std::string_view text, const selector_limits& limits,
                                        std::string* why) {
    if (text.empty()) return invalid(why, "empty selector"), std::nullopt;
    if (text.size() > limits.max_length)
        return invalid(why, "selector longer than " + std::to_string(limits.max_length) + " bytes"), std::nullopt;
    if (!is_clean_text(text)) return invalid(why, "selector is not UTF-8 or has control characters"), std::nullopt;
    selector s;
    s.text_ = std::string(text);
    if (text == "*") kind = selector_kind::any;
    s.kind_ = kind;
    if (kind == selector_kind::any || kind == selector_kind::exact) return s;
    std::string re;
    if (kind == selector_kind::uri_template) {
        if (!template_regex(text, re, why)) return std::nullopt;
    } else {
        s.base_ = limits.base_url;
        if (!pattern_regex(resolve(text, limits.base_url), re, why)) return std::nullopt;
    }
    RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(std::max<int64_t>(1 << 20, static_cast<int64_t>(limits.max_program_size) * 256));
    auto compiled = std::make_shared<const RE2>(re, o);
    if (!compiled->ok()) return invalid(why, "not a valid " + std::string(to_string(kind)) + ": " + compiled->error()), std::nullopt;
    if (compiled->ProgramSize() > limits.max_program_size)
        return invalid(why, "selector too complex (program size " + std::to_string(compiled->ProgramSize()) + " > " +
                             std::to_string(limits.max_program_size) + ")"),
               std::nullopt;
    s.re_ = std::move(compiled);
    return s;
}

bool selector::matches(std::string_view topic) const {
    switch (kind_) {
    case selector_kind::any: return true;
    case selector_kind::exact: return topic == text_;
    case selector_kind::uri_template: return RE2::FullMatch(re2::StringPiece(topic.data(), topic.size()), *re_);
    case selector_kind::url_pattern: {
        const std::string url = resolve(topic, base_);
        return RE2::FullMatch(url, *re_);
    }
    }
    return false;
}

std::string selector::key() const {
    return std::string(to_string(kind_ == selector_kind::any ? selector_kind::any : kind_)) + ":" + text_;
}

}  // namespace ssehub::mercure
