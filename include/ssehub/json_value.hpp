// A strict JSON (RFC 8259) parser into a small value type, and a compact serializer.
// Strict: exactly one value with optional whitespace around it; no comments, no
// trailing commas, no leading zeros, no BOM, no NaN/Infinity; strings must be
// valid UTF-8 and `\u` escapes may not encode lone surrogates; duplicate object
// names are rejected by default (RFC 7519 asks JWT parsers to reject or take the
// last one; rejecting is the safe choice for every input ssehub reads).
// Nesting depth and input size are bounded (parse_options). Neither parsing
// nor destroying a value recurses, so a large max_depth cannot overflow the
// stack there.
// Thread safety: value is a plain value type (Distinct objects: safe. Shared
// objects: unsafe); parse and serialize are free functions, safe from any thread.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ssehub::json {

class value;
using array = std::vector<value>;
using member = std::pair<std::string, value>;
using object = std::vector<member>;  // insertion order kept

enum class kind : std::uint8_t { null, boolean, number, string, array, object };

// A number keeps its source text, so integers beyond 2^53 and exact decimals
// survive a parse/serialize round trip; `value` is the nearest double.
struct number {
    double value = 0;
    std::string text;  // JSON text as parsed; empty for a number built from a double

    // Numbers compare by their double value (so 1, 1.0 and 1e0 are equal).
    friend bool operator==(const number& a, const number& b) noexcept { return a.value == b.value; }
};

class value {
public:
    value() noexcept = default;  // null
    value(std::nullptr_t) noexcept {}
    value(bool b) noexcept : v_(std::in_place_type<bool>, b) {}
    value(double d) noexcept : v_(std::in_place_type<number>, number{d, {}}) {}
    template <std::integral I>
        requires(!std::same_as<I, bool>)
    value(I i) : v_(std::in_place_type<number>, number{static_cast<double>(i), std::to_string(i)}) {}
    value(number n) noexcept : v_(std::in_place_type<number>, std::move(n)) {}
    value(std::string s) noexcept : v_(std::in_place_type<std::string>, std::move(s)) {}
    value(std::string_view s) : v_(std::in_place_type<std::string>, s) {}
    value(const char* s) : v_(std::in_place_type<std::string>, s) {}
    value(array a) noexcept : v_(std::in_place_type<array>, std::move(a)) {}
    value(object o) noexcept : v_(std::in_place_type<object>, std::move(o)) {}

    // Destruction does not recurse, whatever the nesting depth. (Copying,
    // comparing and serializing do: keep max_depth moderate if you use them.)
    ~value();
    value(const value&) = default;
    value(value&&) noexcept = default;
    value& operator=(const value&) = default;
    value& operator=(value&&) noexcept = default;

    kind type() const noexcept { return static_cast<kind>(v_.index()); }
    bool is_null() const noexcept { return type() == kind::null; }
    bool is_bool() const noexcept { return type() == kind::boolean; }
    bool is_number() const noexcept { return type() == kind::number; }
    bool is_string() const noexcept { return type() == kind::string; }
    bool is_array() const noexcept { return type() == kind::array; }
    bool is_object() const noexcept { return type() == kind::object; }

    // Accessors throw std::bad_variant_access on the wrong kind.
    bool as_bool() const { return std::get<bool>(v_); }
    double as_double() const { return std::get<number>(v_).value; }
    const number& as_number() const { return std::get<number>(v_); }
    const std::string& as_string() const { return std::get<std::string>(v_); }
    std::string& as_string() { return std::get<std::string>(v_); }
    const array& as_array() const { return std::get<array>(v_); }
    array& as_array() { return std::get<array>(v_); }
    const object& as_object() const { return std::get<object>(v_); }
    object& as_object() { return std::get<object>(v_); }

    // A number written without fraction or exponent that fits in int64 (for a
    // number built from a double: an integral double in int64 range).
    bool is_integer() const noexcept { return as_int64().has_value(); }
    // That integer; nullopt when !is_integer() (not a number included).
    std::optional<std::int64_t> as_int64() const noexcept;

    // The number's JSON text: as parsed, or the shortest round-trip form of
    // the double ("null" for NaN/infinity, as JSON has no such numbers). Empty
    // when not a number.
    std::string number_text() const;

    // Object member by name (the first one); nullptr when absent or not an object.
    const value* find(std::string_view name) const noexcept;

    friend bool operator==(const value&, const value&) = default;

private:
    std::variant<std::nullptr_t, bool, number, std::string, array, object> v_;
};

struct parse_options {
    std::size_t max_depth = 64;             // nested arrays/objects; deeper → error
    std::size_t max_bytes = 1024 * 1024;    // input size; larger → error
    bool allow_duplicate_names = false;     // true: keep every member, find() sees the first
};

// Parses exactly one JSON text. On success `out` holds it and true is returned.
// On failure `out` is left unchanged and, if error_message is given, it gets a
// short reason with the byte offset (never the input itself).
bool parse(std::string_view text, value& out, std::string* error_message = nullptr,
           const parse_options& options = {});

// Same; nullopt on error.
std::optional<value> parse(std::string_view text, const parse_options& options);
inline std::optional<value> parse(std::string_view text) { return parse(text, parse_options{}); }

// Compact JSON text (no whitespace). Strings go through json::append_string
// (invalid UTF-8 becomes U+FFFD); numbers keep their parsed text.
std::string serialize(const value& v);
void serialize(const value& v, std::string& out);  // appends

}  // namespace ssehub::json
