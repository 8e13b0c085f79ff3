#include <catch2/catch.hpp>

#include <ssehub/base64.hpp>

#include <string>

namespace b64 = ssehub::base64url;

TEST_CASE("base64url: RFC 4648 vectors, unpadded", "[base64]") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},           {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        INFO(plain);
        CHECK(b64::encode(plain) == encoded);
        CHECK(b64::decode(encoded) == std::string(plain));
        CHECK(b64::encoded_size(std::string_view(plain).size()) == std::string_view(encoded).size());
    }
    // The url-safe alphabet: '-' and '_' instead of '+' and '/'.
    CHECK(b64::encode("\xfb\xff\xbf") == "-_-_");
    CHECK(b64::decode("-_-_") == std::string("\xfb\xff\xbf"));
}

TEST_CASE("base64url: every byte value round-trips", "[base64]") {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (std::size_t len = 0; len <= all.size(); len += 37) {
        const std::string s = all.substr(0, len);
        CHECK(b64::decode(b64::encode(s)) == s);
    }
    std::string out = "prefix:";
    b64::encode("foo", out);
    CHECK(out == "prefix:Zm9v");
}

TEST_CASE("base64url: strict decoding", "[base64]") {
    const char* invalid[] = {
        "Zg==",   // padding
        "Zm8=",   // padding
        "Zg=",    // padding
        "Z",      // 4n+1 length
        "Zm9vY",  // 4n+1 length
        "Zm9v+w", // '+' (standard alphabet)
        "Zm9v/w", // '/'
        "Zm 9v",  // whitespace
        "Zm9v\n", // newline
        "Zh",     // non-zero trailing bits ("f" is "Zg")
        "Zm9",    // non-zero trailing bits ("fo" is "Zm8")
        "Zm9v!A",
    };
    for (const char* s : invalid) {
        INFO(s);
        CHECK_FALSE(b64::decode(s));
    }
    CHECK_FALSE(b64::decode(std::string_view("Zm9v\0\0\0\0", 8)));
    CHECK_FALSE(b64::decode("Zm9v\xC3\xA9"));
}
