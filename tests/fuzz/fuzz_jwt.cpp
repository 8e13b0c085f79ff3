// fuzz_jwt: verify_hs256 with a fixed secret on arbitrary tokens, and on
// tokens signed here over fuzzer-chosen header/payload JSON.
//  - accept => the token has three base64url parts whose decoded header and
//    payload, re-signed with sign_hs256 and the secret, give the token back
//    (so nothing is ever accepted without a valid signature); it is then
//    accepted again with the same result (deterministic), refused with
//    another secret, and refused once one signature character changes;
//  - refuse => `out` untouched and a log reason given;
//  - base64url: decode(encode(x)) == x, encoded_size exact, and whatever
//    decode accepts re-encodes to the same text (one encoding per value).
// Input: byte 0 selects the mode (< 128: raw token, else "header\npayload"
// signed here); the rest is the token / JSON.
#include "ssehub/base64.hpp"
#include "ssehub/jwt.hpp"
#include "ssehub/topic.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

constexpr std::string_view secret = "fuzz-secret-0123456789";

ssehub::jwt_options options(std::uint8_t sel) {
    ssehub::jwt_options o;
    o.secret = std::string(secret);
    o.now = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)); };
    if (sel & 1) o.issuer = "iss";
    if (sel & 2) o.audience = "aud";
    o.require_exp = (sel & 4) != 0;
    if (sel & 8) o.topics_claim.clear();
    if (sel & 16) o.max_token_bytes = 64;
    return o;
}

void check_base64(std::string_view in) {
    const std::string enc = ssehub::base64url::encode(in);
    FUZZ_CHECK(enc.size() == ssehub::base64url::encoded_size(in.size()));
    const auto dec = ssehub::base64url::decode(enc);
    FUZZ_CHECK(dec && *dec == in);
    if (const auto d = ssehub::base64url::decode(in)) FUZZ_CHECK(ssehub::base64url::encode(*d) == in);
}

void check_token(std::string_view token, std::uint8_t sel) {
    const auto opts = options(sel);
    ssehub::auth_result out;
    out.metadata["sentinel"] = "x";
    std::string log;
    const std::error_code ec = ssehub::verify_hs256(token, opts, out, &log);
    if (ec) {
        FUZZ_CHECK(out.metadata.size() == 1 && out.metadata.count("sentinel") == 1);
        FUZZ_CHECK(!out.allowed_topics.has_value());
        FUZZ_CHECK(!log.empty());
        return;
    }
    // Accepted: the signature must be genuine.
    const auto d1 = token.find('.');
    FUZZ_CHECK(d1 != std::string_view::npos);
    const auto d2 = token.find('.', d1 + 1);
    FUZZ_CHECK(d2 != std::string_view::npos);
    FUZZ_CHECK(token.find('.', d2 + 1) == std::string_view::npos);
    const auto header = ssehub::base64url::decode(token.substr(0, d1));
    const auto payload = ssehub::base64url::decode(token.substr(d1 + 1, d2 - d1 - 1));
    FUZZ_CHECK(header && payload);
    FUZZ_CHECK(ssehub::sign_hs256(*header, *payload, secret) == token);
    FUZZ_CHECK(token.size() <= opts.max_token_bytes);
    if (out.allowed_topics)
        for (const auto& t : *out.allowed_topics) FUZZ_CHECK(ssehub::topic::is_valid_pattern(t, std::size_t(-1)));

    ssehub::auth_result again;
    FUZZ_CHECK(!ssehub::verify_hs256(token, opts, again));
    FUZZ_CHECK(again.metadata == out.metadata && again.allowed_topics == out.allowed_topics);

    auto other = opts;
    other.secret = "another-secret";
    FUZZ_CHECK(ssehub::verify_hs256(token, other, again));
    other.secret.clear();
    FUZZ_CHECK(ssehub::verify_hs256(token, other, again));

    std::string tampered(token);
    char& c = tampered[d2 + 1 + (tampered.size() - d2 - 1) / 2];
    c = c == 'A' ? 'B' : 'A';
    FUZZ_CHECK(ssehub::verify_hs256(tampered, opts, again));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t sel = data[0];
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    check_base64(in);
    if constexpr (!ssehub::hs256_available) {
        ssehub::auth_result out;
        FUZZ_CHECK(ssehub::verify_hs256(in, options(sel), out));
        return 0;
    } else {
        if (sel < 128) {
            check_token(in, sel);
        } else {
            const auto nl = in.find('\n');
            const std::string_view header = nl == std::string_view::npos ? std::string_view(R"({"alg":"HS256"})") : in.substr(0, nl);
            const std::string_view payload = nl == std::string_view::npos ? in : in.substr(nl + 1);
            check_token(ssehub::sign_hs256(header, payload, secret), sel);
        }
    }
    return 0;
}
