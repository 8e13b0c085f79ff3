#include "ssehub/json_value.hpp"
#include "ascii.hpp"

#include "ssehub/json.hpp"
#include "utf8.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

namespace ssehub::json {
namespace {

using ssehub::detail::ascii::hex_value;

// Bytes that may be copied as they are inside a string: printable ASCII but '"' and '\'.
constexpr std::array<bool, 256> plain_table = [] {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x80; ++c) t[static_cast<std::size_t>(c)] = true;
    t['"'] = false;
    t['\\'] = false;
    return t;
}();

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

void append_double(std::string& out, double d) {
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    out.append(buf, r.ptr);
}

// The number text [b, e) (already checked against the grammar) is out of
// double's range: true when too large, false when too small (underflow).
bool overflows(const char* b, const char* e) noexcept {
    if (*b == '-') ++b;
    long long e10 = 0;
    const char* p = b;
    while (p < e && is_digit(*p)) ++p;
    const bool int_is_zero = (p - b == 1 && *b == '0');
    if (!int_is_zero) e10 = p - b - 1;
    if (p < e && *p == '.') {
        ++p;
        if (int_is_zero) {
            long long zeros = 0;
            while (p < e && *p == '0') ++zeros, ++p;
            e10 = -(zeros + 1);
        }
        while (p < e && is_digit(*p)) ++p;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        ++p;
        bool neg = false;
        if (*p == '+' || *p == '-') neg = (*p++ == '-');
        long long x = 0;
        for (; p < e; ++p) x = std::min<long long>(x * 10 + (*p - '0'), 1'000'000'000);
        e10 += neg ? -x : x;
    }
    return e10 > 0;
}

class parser {
public:
    parser(std::string_view text, const parse_options& options) noexcept
        : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()), opt_(options) {}

    bool run(value& out) {
        if (static_cast<std::size_t>(end_ - begin_) > opt_.max_bytes) return fail("input larger than the limit");
        for (;;) {
            value cur;
            skip_ws();
            if (p_ == end_) return fail("unexpected end of input");
            const char c = *p_;
            if (c == '[' || c == '{') {
                if (stack_.size() >= opt_.max_depth) return fail("nesting deeper than the limit");
                ++p_;
                if (c == '[') {
                    stack_.push_back(frame{value(array{}), {}});
                    skip_ws();
                    if (p_ == end_ || *p_ != ']') continue;  // parse the first element
                } else {
                    stack_.push_back(frame{value(object{}), {}});
                    skip_ws();
                    if (p_ == end_ || *p_ != '}') {
                        if (!member_name(stack_.back().name)) return false;
                        continue;
                    }
                }
                ++p_;  // empty container: closed at once
                cur = std::move(stack_.back().container);
                stack_.pop_back();
            } else if (!scalar(cur)) {
                return false;
            }
            switch (attach(std::move(cur), out)) {
            case next::error: return false;
            case next::done: return true;
            case next::value: break;
            }
        }
    }

    std::string error() const {
        return "JSON error at offset " + std::to_string(err_pos_) + ": " + err_;
    }

private:
    struct frame {
        value container;   // the array or object being filled
        std::string name;  // object: the name of the member whose value comes next
    };
    enum class next { error, done, value };

    bool fail(const char* message) noexcept {
        if (err_ == nullptr) {
            err_ = message;
            err_pos_ = static_cast<std::size_t>(p_ - begin_);
        }
        return false;
    }

    void skip_ws() noexcept {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }

    // A completed value: add it to the open container, then read ',' or the
    // closing bracket (closing may complete the parent in turn).
    next attach(value cur, value& out) {
        for (;;) {
            if (stack_.empty()) {
                skip_ws();
                if (p_ != end_) return fail("unexpected data after the value"), next::error;
                out = std::move(cur);
                return next::done;
            }
            frame& top = stack_.back();
            const bool is_object = top.container.is_object();
            if (is_object) {
                top.container.as_object().emplace_back(std::move(top.name), std::move(cur));
            } else {
                top.container.as_array().push_back(std::move(cur));
            }
            skip_ws();
            if (p_ == end_) return fail("unexpected end of input"), next::error;
            if (*p_ == ',') {
                ++p_;
                if (is_object) {
                    skip_ws();
                    if (!member_name(top.name)) return next::error;
                }
                return next::value;
            }
            if (*p_ != (is_object ? '}' : ']')) {
                return fail(is_object ? "expected ',' or '}'" : "expected ',' or ']'"), next::error;
            }
            if (is_object && !opt_.allow_duplicate_names && has_duplicates(top.container.as_object())) {
                return fail("duplicate object member name"), next::error;
            }
            ++p_;
            cur = std::move(top.container);
            stack_.pop_back();
        }
    }

    static bool has_duplicates(const object& members) {
        const std::size_t n = members.size();
        if (n < 2) return false;
        if (n <= 16) {
            for (std::size_t i = 1; i < n; ++i)
                for (std::size_t j = 0; j < i; ++j)
                    if (members[i].first == members[j].first) return true;
            return false;
        }
        std::vector<std::string_view> names;
        names.reserve(n);
        for (const auto& m : members) names.emplace_back(m.first);
        std::sort(names.begin(), names.end());
        return std::adjacent_find(names.begin(), names.end()) != names.end();
    }

    // "name" then ':' (whitespace around the colon allowed).
    bool member_name(std::string& name) {
        if (p_ == end_) return fail("unexpected end of input");
        if (*p_ != '"') return fail("expected a member name string");
        if (!string(name)) return false;
        skip_ws();
        if (p_ == end_) return fail("unexpected end of input");
        if (*p_ != ':') return fail("expected ':'");
        ++p_;
        return true;
    }

    bool scalar(value& out) {
        switch (*p_) {
        case '"': {
            std::string s;
            if (!string(s)) return false;
            out = value(std::move(s));
            return true;
        }
        case 't': return literal("true") && (out = value(true), true);
        case 'f': return literal("false") && (out = value(false), true);
        case 'n': return literal("null") && (out = value(), true);
        default:
            if (*p_ == '-' || is_digit(*p_)) return number_value(out);
            return fail("unexpected character");
        }
    }

    bool literal(std::string_view word) noexcept {
        if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) {
            return fail("invalid literal");
        }
        p_ += word.size();
        return true;
    }

    bool number_value(value& out) {
        const char* const start = p_;
        if (*p_ == '-') ++p_;
        if (p_ == end_ || !is_digit(*p_)) return fail("invalid number");
        if (*p_ == '0') {
            ++p_;
            if (p_ < end_ && is_digit(*p_)) return fail("leading zero in number");
        } else {
            while (p_ < end_ && is_digit(*p_)) ++p_;
        }
        if (p_ < end_ && *p_ == '.') {
            ++p_;
            if (p_ == end_ || !is_digit(*p_)) return fail("invalid number: digit expected after '.'");
            while (p_ < end_ && is_digit(*p_)) ++p_;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (p_ == end_ || !is_digit(*p_)) return fail("invalid number: digit expected in exponent");
            while (p_ < end_ && is_digit(*p_)) ++p_;
        }
        double d = 0;
        const auto r = std::from_chars(start, p_, d);
        if (r.ec == std::errc::result_out_of_range) {
            if (overflows(start, p_)) {
                const char* here = p_;
                p_ = start;
                fail("number out of range");
                p_ = here;
                return false;
            }
            d = *start == '-' ? -0.0 : 0.0;  // underflow: rounds to zero
        } else if (r.ec != std::errc{} || r.ptr != p_) {
            p_ = start;
            return fail("invalid number");
        }
        out = value(json::number{d, std::string(start, p_)});
        return true;
    }

    bool hex4(std::uint32_t& cp) noexcept {
        if (end_ - p_ < 4) return fail("invalid \\u escape");
        cp = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hex_value(p_[i]);
            if (h < 0) return fail("invalid \\u escape");
            cp = (cp << 4) | static_cast<std::uint32_t>(h);
        }
        p_ += 4;
        return true;
    }

    // *p_ == '"'. Appends the decoded string to `out` (cleared first).
    bool string(std::string& out) {
        ++p_;
        out.clear();
        for (;;) {
            const char* run = p_;
            while (p_ < end_ && plain_table[static_cast<unsigned char>(*p_)]) ++p_;
            out.append(run, p_);
            if (p_ == end_) return fail("unterminated string");
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                ++p_;
                return true;
            }
            if (c == '\\') {
                if (!escape(out)) return false;
            } else if (c < 0x20) {
                return fail("control character in string");
            } else {
                const std::size_t n = ssehub::detail::utf8_sequence(std::string_view(p_, static_cast<std::size_t>(end_ - p_)), 0);
                if (n == 0) return fail("invalid UTF-8 in string");
                out.append(p_, n);
                p_ += n;
            }
        }
    }

    // *p_ == '\\'.
    bool escape(std::string& out) {
        ++p_;
        if (p_ == end_) return fail("unterminated string");
        const char e = *p_++;
        switch (e) {
        case '"': out.push_back('"'); return true;
        case '\\': out.push_back('\\'); return true;
        case '/': out.push_back('/'); return true;
        case 'b': out.push_back('\b'); return true;
        case 'f': out.push_back('\f'); return true;
        case 'n': out.push_back('\n'); return true;
        case 'r': out.push_back('\r'); return true;
        case 't': out.push_back('\t'); return true;
        case 'u': break;
        default: --p_; return fail("invalid escape");
        }
        std::uint32_t cp = 0;
        if (!hex4(cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("lone low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail("lone high surrogate in \\u escape");
            p_ += 2;
            std::uint32_t lo = 0;
            if (!hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("lone high surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        append_utf8(out, cp);
        return true;
    }

    const char* begin_;
    const char* p_;
    const char* end_;
    const parse_options& opt_;
    std::vector<frame> stack_;
    const char* err_ = nullptr;
    std::size_t err_pos_ = 0;
};

}  // namespace

namespace {

bool is_container(const value& v) noexcept { return v.is_array() || v.is_object(); }

// Moves the containers among v's children to `work` and empties v.
void detach_children(value& v, std::vector<value>& work) {
    if (v.is_array()) {
        for (auto& e : v.as_array()) {
            if (is_container(e)) work.push_back(std::move(e));
        }
        v.as_array().clear();
    } else if (v.is_object()) {
        for (auto& m : v.as_object()) {
            if (is_container(m.second)) work.push_back(std::move(m.second));
        }
        v.as_object().clear();
    }
}

bool has_container_child(const value& v) noexcept {
    if (v.is_array()) {
        for (const auto& e : v.as_array()) {
            if (is_container(e)) return true;
        }
    } else if (v.is_object()) {
        for (const auto& m : v.as_object()) {
            if (is_container(m.second)) return true;
        }
    }
    return false;
}

}  // namespace

// Nested containers are torn down from a work list instead of by recursion.
// A value with no container child (the common case) is destroyed as usual.
value::~value() {
    if (!has_container_child(*this)) return;
    std::vector<value> work;
    detach_children(*this, work);
    while (!work.empty()) {
        value v = std::move(work.back());
        work.pop_back();
        detach_children(v, work);
    }  // each v is destroyed empty: its own destructor returns at once
}

std::optional<std::int64_t> value::as_int64() const noexcept {
    const auto* n = std::get_if<number>(&v_);
    if (n == nullptr) return std::nullopt;
    if (n->text.empty()) {
        const double d = n->value;
        // [-2^63, 2^63): both bounds are exact doubles.
        if (std::isfinite(d) && d == std::trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            return static_cast<std::int64_t>(d);
        }
        return std::nullopt;
    }
    const std::string& t = n->text;
    if (t.find_first_of(".eE") != std::string::npos) return std::nullopt;
    std::int64_t i = 0;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), i);
    if (r.ec != std::errc{} || r.ptr != t.data() + t.size()) return std::nullopt;
    return i;
}

std::string value::number_text() const {
    const auto* n = std::get_if<number>(&v_);
    if (n == nullptr) return {};
    if (!n->text.empty()) return n->text;
    std::string s;
    append_double(s, n->value);
    return s;
}

const value* value::find(std::string_view name) const noexcept {
    const auto* o = std::get_if<object>(&v_);
    if (o == nullptr) return nullptr;
    for (const auto& m : *o) {
        if (m.first == name) return &m.second;
    }
    return nullptr;
}

bool parse(std::string_view text, value& out, std::string* error_message, const parse_options& options) {
    parser p(text, options);
    value v;
    if (!p.run(v)) {
        if (error_message != nullptr) *error_message = p.error();
        return false;
    }
    out = std::move(v);
    return true;
}

std::optional<value> parse(std::string_view text, const parse_options& options) {
    value v;
    if (!parse(text, v, nullptr, options)) return std::nullopt;
    return v;
}

void serialize(const value& v, std::string& out) {
    switch (v.type()) {
    case kind::null: out += "null"; return;
    case kind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case kind::number: {
        const number& n = v.as_number();
        if (n.text.empty()) append_double(out, n.value);
        else out += n.text;
        return;
    }
    case kind::string: append_string(out, v.as_string()); return;
    case kind::array: {
        out.push_back('[');
        bool first = true;
        for (const auto& e : v.as_array()) {
            if (!first) out.push_back(',');
            first = false;
            serialize(e, out);
        }
        out.push_back(']');
        return;
    }
    case kind::object: {
        out.push_back('{');
        bool first = true;
        for (const auto& m : v.as_object()) {
            if (!first) out.push_back(',');
            first = false;
            append_string(out, m.first);
            out.push_back(':');
            serialize(m.second, out);
        }
        out.push_back('}');
        return;
    }
    }
}

std::string serialize(const value& v) {
    std::string out;
    serialize(v, out);
    return out;
}

}  // namespace ssehub::json
