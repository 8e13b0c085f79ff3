#include <catch2/catch.hpp>

#include <ssehub/json_value.hpp>

#include <limits>
#include <string>

namespace json = ssehub::json;

namespace {

bool valid(std::string_view text) { return json::parse(text).has_value(); }

}  // namespace

TEST_CASE("json_value: scalars", "[json_value]") {
    auto v = json::parse("null");
    REQUIRE(v);
    CHECK(v->is_null());
    CHECK(json::parse("true")->as_bool());
    CHECK_FALSE(json::parse(" false ")->as_bool());
    CHECK(json::parse("\"x\"")->as_string() == "x");

    auto n = json::parse("-12.5e1");
    REQUIRE(n);
    CHECK(n->as_double() == -125.0);
    CHECK(n->number_text() == "-12.5e1");
    CHECK_FALSE(n->is_integer());

    auto i = json::parse("1700000000");
    REQUIRE(i);
    CHECK(i->is_integer());
    CHECK(i->as_int64() == 1700000000);
    CHECK(json::parse("-0")->as_int64() == 0);
    CHECK(json::parse("9223372036854775807")->as_int64() == std::numeric_limits<std::int64_t>::max());
    CHECK(json::parse("-9223372036854775808")->as_int64() == std::numeric_limits<std::int64_t>::min());
    CHECK_FALSE(json::parse("\"1\"")->as_int64());
}

TEST_CASE("json_value: big and tiny numbers", "[json_value]") {
    // Beyond int64 but a valid double: accepted, exact text kept, not an integer.
    auto big = json::parse("12345678901234567890123");
    REQUIRE(big);
    CHECK_FALSE(big->is_integer());
    CHECK(big->as_double() == Approx(1.2345678901234568e22));
    CHECK(json::serialize(*big) == "12345678901234567890123");
    CHECK_FALSE(json::parse("9223372036854775808")->is_integer());
    // Past double's range: rejected (no silent infinity).
    std::string err;
    json::value out;
    CHECK_FALSE(json::parse("1e400", out, &err));
    CHECK(err.find("out of range") != std::string::npos);
    CHECK_FALSE(valid("-1e400"));
    CHECK_FALSE(valid("[" + std::string(400, '9') + "]"));
    // Underflow rounds to zero.
    auto tiny = json::parse("1e-400");
    REQUIRE(tiny);
    CHECK(tiny->as_double() == 0.0);
    CHECK(json::parse("0." + std::string(400, '0') + "1")->as_double() == 0.0);
    CHECK(json::parse("1E+2")->as_double() == 100.0);
    CHECK(json::parse("0.5e-0")->as_double() == 0.5);
}

TEST_CASE("json_value: containers keep order and nest", "[json_value]") {
    auto v = json::parse(R"( { "b" : [1, {"x": null}, []], "a": {}, "c": "d" } )");
    REQUIRE(v);
    REQUIRE(v->is_object());
    const auto& o = v->as_object();
    REQUIRE(o.size() == 3);
    CHECK(o[0].first == "b");
    CHECK(o[1].first == "a");
    CHECK(o[2].first == "c");
    REQUIRE(v->find("b"));
    const auto& arr = v->find("b")->as_array();
    REQUIRE(arr.size() == 3);
    CHECK(arr[0].as_int64() == 1);
    CHECK(arr[1].find("x")->is_null());
    CHECK(arr[2].as_array().empty());
    CHECK(v->find("a")->as_object().empty());
    CHECK(v->find("zz") == nullptr);
    CHECK(json::parse("[]")->find("a") == nullptr);
    CHECK(json::serialize(*v) == R"({"b":[1,{"x":null},[]],"a":{},"c":"d"})");
}

TEST_CASE("json_value: strings and escapes", "[json_value]") {
    CHECK(json::parse(R"("a\"b\\c\/d\b\f\n\r\t")")->as_string() == "a\"b\\c/d\b\f\n\r\t");
    CHECK(json::parse(R"("\u0041\u00e9\u20AC")")->as_string() == "A\xC3\xA9\xE2\x82\xAC");
    CHECK(json::parse(R"("\ud83d\ude00")")->as_string() == "\xF0\x9F\x98\x80");  // U+1F600 via a surrogate pair
    CHECK(json::parse(R"("\u0000")")->as_string() == std::string(1, '\0'));
    CHECK(json::parse("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"")->as_string() == "caf\xC3\xA9 \xF0\x9F\x98\x80");
    CHECK(json::parse("\"\x7f\"")->as_string() == "\x7f");
}

TEST_CASE("json_value: invalid inputs", "[json_value]") {
    const char* cases[] = {
        "",
        "   ",
        "nul",
        "True",
        "nullx",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{,}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{a:1}",
        "{'a':1}",
        "[1 2]",
        "[1",
        "{\"a\":1",
        "\"abc",
        "01",
        "-01",
        "00",
        "1.",
        ".5",
        "+1",
        "-",
        "1e",
        "1e+",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "1 2",
        "{} []",
        "[1]]",
        "\"a\\x\"",
        "\"a\\u12\"",
        "\"a\\u12G4\"",
        "\"\\ud800\"",          // lone high surrogate
        "\"\\udc00\"",          // lone low surrogate
        "\"\\ud800\\u0041\"",   // high surrogate + non-low
        "\"\\ud800\\ud800\"",   // two highs
        "\"\\ud800x\"",
        "\"\t\"",               // raw control character
        "\"\n\"",
        "\"\x01\"",
        "\"\x80\"",             // stray continuation byte
        "\"\xC0\xAF\"",         // overlong '/'
        "\"\xE0\x80\xAF\"",     // overlong
        "\"\xED\xA0\x80\"",     // UTF-8-encoded surrogate
        "\"\xF4\x90\x80\x80\"", // past U+10FFFF
        "\"\xC3\"",             // truncated
        "\"\xF0\x9F\x98\"",
        "\xEF\xBB\xBFnull",     // BOM
        "/* c */ 1",
    };
    for (const char* c : cases) {
        INFO("input: " << c);
        CHECK_FALSE(valid(c));
    }
    CHECK_FALSE(valid(std::string_view("[1]\0", 4)));
    CHECK_FALSE(valid(std::string_view("\"a\0\"", 4)));
}

TEST_CASE("json_value: error message has an offset and never the input", "[json_value]") {
    json::value v = json::value("unchanged");
    std::string err;
    CHECK_FALSE(json::parse(R"({"secret":"hunter2",})", v, &err));
    CHECK(err.find("offset 20") != std::string::npos);
    CHECK(err.find("hunter2") == std::string::npos);
    CHECK(v.as_string() == "unchanged");  // untouched on failure
}

TEST_CASE("json_value: duplicate member names", "[json_value]") {
    CHECK_FALSE(valid(R"({"a":1,"a":2})"));
    CHECK_FALSE(valid(R"({"a":{"b":1,"b":1}})"));
    CHECK(valid(R"({"a":{"a":1}})"));
    // Large objects take the sorted path.
    std::string big = "{";
    for (int i = 0; i < 40; ++i) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    CHECK(valid(big + "\"last\":0}"));
    CHECK_FALSE(valid(big + "\"k17\":0}"));
    json::parse_options lax;
    lax.allow_duplicate_names = true;
    auto v = json::parse(R"({"a":1,"a":2})", lax);
    REQUIRE(v);
    CHECK(v->find("a")->as_int64() == 1);
}

TEST_CASE("json_value: depth and size limits", "[json_value]") {
    auto nested = [](std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
    CHECK(valid(nested(64)));
    CHECK_FALSE(valid(nested(65)));
    std::string objs;
    for (int i = 0; i < 65; ++i) objs += "{\"a\":";
    objs += "1" + std::string(65, '}');
    CHECK_FALSE(valid(objs));

    json::parse_options o;
    o.max_depth = 2;
    CHECK(json::parse("[[1]]", o));
    CHECK_FALSE(json::parse("[[[1]]]", o));
    json::parse_options flat;
    flat.max_depth = 0;
    CHECK(json::parse("1", flat));
    CHECK_FALSE(json::parse("[]", flat));

    // No recursion: a huge depth limit does not overflow the stack.
    o.max_depth = 1'000'000;
    CHECK(json::parse(nested(200'000), o));

    json::parse_options small;
    small.max_bytes = 8;
    CHECK(json::parse("[1,2,3]", small));
    CHECK_FALSE(json::parse("[1,2,3,4]", small));
}

TEST_CASE("json_value: serialize", "[json_value]") {
    json::object o;
    o.emplace_back("s", "a\"b\n\x01");
    o.emplace_back("i", 42);
    o.emplace_back("d", 0.1);
    o.emplace_back("inf", std::numeric_limits<double>::infinity());
    o.emplace_back("b", true);
    o.emplace_back("n", nullptr);
    o.emplace_back("arr", json::array{1, "x", json::array{}});
    const json::value v(std::move(o));
    const std::string text = json::serialize(v);
    CHECK(text == R"({"s":"a\"b\n\u0001","i":42,"d":0.1,"inf":null,"b":true,"n":null,"arr":[1,"x",[]]})");

    // Round trip: parse(serialize(x)) == x for what JSON can hold.
    auto back = json::parse(R"({"s":"a\"b\n\u0001","i":42,"d":0.1,"b":true,"n":null,"arr":[1,"x",[]]})");
    REQUIRE(back);
    CHECK(json::parse(json::serialize(*back)) == back);
    CHECK(json::value(1.5).number_text() == "1.5");
    CHECK(json::value(int64_t{-7}).as_int64() == -7);
    CHECK(json::value(3.0).is_integer());
    CHECK_FALSE(json::value(3.5).is_integer());
    CHECK(json::value(1) == json::parse("1.0").value());  // numbers compare by value
}
