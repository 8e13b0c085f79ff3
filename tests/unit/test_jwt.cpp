#include <catch2/catch.hpp>

#include <ssehub/base64.hpp>
#include <ssehub/error.hpp>
#include <ssehub/http.hpp>
#include <ssehub/jwt.hpp>

#include <chrono>
#include <string>

using ssehub::error;

namespace {

// Signatures below were computed outside ssehub, with
//   printf %s "$signing_input" | openssl dgst -sha256 -hmac "$key" -binary | base64url
constexpr const char* test_key = "s3cr3t-key-for-tests-0123456789ab";
// {"alg":"HS256","typ":"JWT"} .
// {"sub":"user-42","tenant_id":"acme","exp":2000000000,"nbf":1500000000,"iat":1600000000,
//  "iss":"https://auth.example","aud":["ssehub","other"],"topics":["prices.*","news.>"]}
constexpr const char* test_token =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJ1c2VyLTQyIiwidGVuYW50X2lkIjoiYWNtZSIsImV4cCI6MjAwMDAwMDAwMCwibmJmIjoxNTAwMDAwMDAwLCJpYXQiOjE2MDAw"
    "MDAwMDAsImlzcyI6Imh0dHBzOi8vYXV0aC5leGFtcGxlIiwiYXVkIjpbInNzZWh1YiIsIm90aGVyIl0sInRvcGljcyI6WyJwcmljZXMuKiIs"
    "Im5ld3MuPiJdfQ."
    "8jNrxVrV8cXorp9ltu3R7NHUAveiWEkRshl0cKg1luA";
// The jwt.io example token (secret "your-256-bit-secret").
constexpr const char* jwt_io_token =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

constexpr double now_s = 1'700'000'000;
constexpr const char* hs256_header = R"({"alg":"HS256","typ":"JWT"})";

std::function<std::chrono::system_clock::time_point()> clock_at(double seconds) {
    return [seconds] {
        return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::duration<double>(seconds)));
    };
}

ssehub::jwt_options options() {
    ssehub::jwt_options o;
    o.secret = test_key;
    o.now = clock_at(now_s);
    return o;
}

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
std::string n(double x) { return std::to_string(static_cast<long long>(x)); }

std::error_code verify(std::string_view token, const ssehub::jwt_options& o, ssehub::auth_result* res = nullptr,
                       std::string* log = nullptr) {
    ssehub::auth_result r;
    auto ec = ssehub::verify_hs256(token, o, r, log);
    if (res) *res = r;
    return ec;
}

std::string signed_payload(std::string_view payload, std::string_view header = hs256_header) {
    return ssehub::sign_hs256(header, payload, test_key);
}
#endif

}  // namespace

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL

TEST_CASE("jwt: known-good token", "[jwt]") {
    auto o = options();
    o.issuer = "https://auth.example";
    o.audience = "ssehub";
    ssehub::auth_result r;
    std::string log;
    REQUIRE_FALSE(ssehub::verify_hs256(test_token, o, r, &log));
    CHECK(r.metadata == ssehub::metadata{{"sub", "user-42"}, {"tenant_id", "acme"}});
    REQUIRE(r.allowed_topics);
    CHECK(*r.allowed_topics == std::vector<std::string>{"prices.*", "news.>"});

    // sign_hs256 reproduces the independently computed token byte for byte.
    CHECK(ssehub::sign_hs256(
              hs256_header,
              R"({"sub":"user-42","tenant_id":"acme","exp":2000000000,"nbf":1500000000,"iat":1600000000,)"
              R"("iss":"https://auth.example","aud":["ssehub","other"],"topics":["prices.*","news.>"]})",
              test_key) == test_token);

    ssehub::jwt_options io;
    io.secret = "your-256-bit-secret";
    io.now = clock_at(now_s);
    REQUIRE_FALSE(ssehub::verify_hs256(jwt_io_token, io, r));
    CHECK(r.metadata == ssehub::metadata{{"sub", "1234567890"}});
    CHECK_FALSE(r.allowed_topics);
}

TEST_CASE("jwt: signature checks", "[jwt]") {
    const auto o = options();
    std::string log;
    ssehub::auth_result r;
    r.metadata["keep"] = "me";

    SECTION("wrong key") {
        auto other = o;
        other.secret = "another-key";
        CHECK(ssehub::verify_hs256(test_token, other, r, &log) == error::invalid_token);
        CHECK(log.find("signature") != std::string::npos);
    }
    SECTION("tampered payload") {
        std::string t = test_token;
        const auto d1 = t.find('.'), d2 = t.rfind('.');
        const std::string evil = ssehub::base64url::encode(R"({"sub":"user-42","tenant_id":"evil"})");
        t = t.substr(0, d1 + 1) + evil + t.substr(d2);
        CHECK(ssehub::verify_hs256(t, o, r, &log) == error::invalid_token);
        CHECK(log.find("signature") != std::string::npos);
    }
    SECTION("tampered signature") {
        std::string t = test_token;
        t[t.size() - 5] = t[t.size() - 5] == 'A' ? 'B' : 'A';
        CHECK(ssehub::verify_hs256(t, o, r, &log) == error::invalid_token);
    }
    SECTION("truncated or missing signature") {
        std::string t = test_token;
        CHECK(ssehub::verify_hs256(t.substr(0, t.size() - 4), o, r) == error::invalid_token);
        CHECK(ssehub::verify_hs256(t.substr(0, t.rfind('.') + 1), o, r) == error::invalid_token);
        CHECK(ssehub::verify_hs256(t.substr(0, t.rfind('.')), o, r) == error::invalid_token);
    }
    SECTION("empty secret rejects everything") {
        auto none = o;
        none.secret.clear();
        CHECK(ssehub::verify_hs256(ssehub::sign_hs256(hs256_header, "{}", ""), none, r) == error::invalid_token);
    }
    CHECK(r.metadata == ssehub::metadata{{"keep", "me"}});  // untouched on failure
}

TEST_CASE("jwt: algorithm and header checks", "[jwt]") {
    const auto o = options();
    std::string log;
    ssehub::auth_result r;
    const std::string payload = R"({"sub":"u"})";
    const std::string p64 = ssehub::base64url::encode(payload);

    // alg none: unsigned, and even "signed" with the right key.
    CHECK(verify(ssehub::base64url::encode(R"({"alg":"none"})") + "." + p64 + ".", o, &r, &log) == error::invalid_token);
    CHECK(log.find("alg") != std::string::npos);
    CHECK(verify(signed_payload(payload, R"({"alg":"none","typ":"JWT"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(payload, R"({"alg":"HS512","typ":"JWT"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(payload, R"({"alg":"hs256"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(payload, R"({"alg":"RS256"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(payload, R"({"typ":"JWT"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(payload, R"({"alg":["HS256"]})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(payload, R"({"alg":"HS256","alg":"none"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(payload, R"({"alg":"HS256","typ":"JWS"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(payload, R"({"alg":"HS256","crit":["exp"]})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(payload, R"(["HS256"])"), o) == error::invalid_token);
    CHECK(verify(signed_payload(payload, "not json"), o) == error::invalid_token);

    CHECK_FALSE(verify(signed_payload(payload, R"({"alg":"HS256"})"), o));
    CHECK_FALSE(verify(signed_payload(payload, R"({"typ":"jwt","alg":"HS256","kid":"k1"})"), o));
}

TEST_CASE("jwt: malformed tokens", "[jwt]") {
    const auto o = options();
    const char* bad[] = {"", ".", "..", "...", "a.b", "a.b.c.d", "abc", "eyJ.eyJ.eyJ"};
    for (const char* t : bad) {
        INFO(t);
        CHECK(verify(t, o) == error::invalid_token);
    }
    const std::string good = test_token;
    CHECK(verify(good + ".", o) == error::invalid_token);
    CHECK(verify("=" + good, o) == error::invalid_token);
    CHECK(verify(" " + good, o) == error::invalid_token);
    // Payload must be a JSON object, strictly parsed.
    CHECK(verify(signed_payload("[1]"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"sub":"a","sub":"b"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"sub":"a",})"), o) == error::invalid_token);
    CHECK(verify(signed_payload("{\"sub\":\"\xff\"}"), o) == error::invalid_token);
    // Size limit.
    auto small = o;
    small.max_token_bytes = 64;
    CHECK(verify(test_token, small) == error::invalid_token);
}

TEST_CASE("jwt: the token's exp + leeway is the stream's expiry", "[jwt]") {
    auto o = options();  // leeway 30 s
    ssehub::auth_result r;
    REQUIRE_FALSE(verify(signed_payload("{\"sub\":\"u\",\"exp\":" + n(now_s + 600) + "}"), o, &r));
    REQUIRE(r.expires);
    CHECK(std::chrono::duration<double>(r.expires->time_since_epoch()).count() == now_s + 630);
    ssehub::auth_result none;
    REQUIRE_FALSE(verify(signed_payload(R"({"sub":"u"})"), o, &none));
    CHECK_FALSE(none.expires);  // no exp: the stream does not expire
}

TEST_CASE("jwt: exp, nbf, iat with leeway", "[jwt]") {
    auto o = options();  // leeway 30 s
    const auto with = [](std::string_view claim, double value) {
        return signed_payload("{\"sub\":\"u\",\"" + std::string(claim) + "\":" + n(value) + "}");
    };
    CHECK(verify(with("exp", now_s - 31), o) == error::token_expired);
    CHECK(verify(with("exp", now_s - 30), o) == error::token_expired);  // now == exp + leeway: expired
    CHECK_FALSE(verify(with("exp", now_s - 29), o));
    CHECK_FALSE(verify(with("exp", now_s + 3600), o));

    CHECK(verify(with("nbf", now_s + 31), o) == error::token_not_yet_valid);
    CHECK_FALSE(verify(with("nbf", now_s + 30), o));  // now == nbf - leeway: valid
    CHECK_FALSE(verify(with("nbf", now_s - 3600), o));

    CHECK(verify(with("iat", now_s + 31), o) == error::token_not_yet_valid);
    CHECK_FALSE(verify(with("iat", now_s + 30), o));
    CHECK_FALSE(verify(with("iat", now_s - 3600), o));

    o.leeway = std::chrono::seconds(0);
    CHECK(verify(with("exp", now_s), o) == error::token_expired);
    CHECK_FALSE(verify(with("exp", now_s + 1), o));
    CHECK(verify(with("nbf", now_s + 1), o) == error::token_not_yet_valid);
    CHECK_FALSE(verify(with("nbf", now_s), o));
    // Fractional NumericDate.
    CHECK(verify(signed_payload(R"({"exp":1699999999.5})"), o) == error::token_expired);
    CHECK_FALSE(verify(signed_payload(R"({"exp":1700000000.5})"), o));

    // Types and presence.
    CHECK(verify(signed_payload(R"({"exp":"2000000000"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"nbf":null})"), o) == error::invalid_token);
    CHECK_FALSE(verify(signed_payload(R"({"sub":"u"})"), o));  // exp optional by default
    o.require_exp = true;
    CHECK(verify(signed_payload(R"({"sub":"u"})"), o) == error::invalid_token);
    CHECK_FALSE(verify(with("exp", now_s + 60), o));

    // The real clock is used when none is injected: the test token expires in 2033.
    auto real = options();
    real.now = nullptr;
    CHECK_FALSE(verify(test_token, real));
}

TEST_CASE("jwt: issuer and audience", "[jwt]") {
    auto o = options();
    o.audience = "ssehub";
    CHECK_FALSE(verify(signed_payload(R"({"aud":"ssehub"})"), o));
    CHECK_FALSE(verify(signed_payload(R"({"aud":["x","ssehub"]})"), o));
    CHECK(verify(signed_payload(R"({"aud":"other"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"aud":["x","y"]})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"aud":[]})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"aud":["ssehub",1]})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"aud":"SSEHUB"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"sub":"u"})"), o) == error::invalid_token);  // missing
    std::string log;
    CHECK(verify(test_token, [] { auto x = options(); x.audience = "nope"; return x; }(), nullptr, &log) ==
          error::invalid_token);
    CHECK(log.find("aud") != std::string::npos);

    o.audience.reset();
    CHECK_FALSE(verify(signed_payload(R"({"aud":"anything"})"), o));  // not configured: not checked

    o.issuer = "https://auth.example";
    CHECK_FALSE(verify(signed_payload(R"({"iss":"https://auth.example"})"), o));
    CHECK(verify(signed_payload(R"({"iss":"https://evil.example"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"iss":["https://auth.example"]})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"sub":"u"})"), o) == error::invalid_token);
}

TEST_CASE("jwt: claims to metadata", "[jwt]") {
    auto o = options();
    ssehub::auth_result r;
    REQUIRE_FALSE(verify(signed_payload(R"({"tenant_id":42,"sub":"u","name":"ignored"})"), o, &r));
    CHECK(r.metadata == ssehub::metadata{{"sub", "u"}, {"tenant_id", "42"}});
    REQUIRE_FALSE(verify(signed_payload(R"({"tenant_id":1.5e3})"), o, &r));
    CHECK(r.metadata == ssehub::metadata{{"tenant_id", "1.5e3"}});  // the number's JSON text
    CHECK(verify(signed_payload(R"({"tenant_id":true})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"tenant_id":{"a":1}})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"tenant_id":null})"), o) == error::invalid_token);

    o.metadata_claims = {"org", "role"};
    REQUIRE_FALSE(verify(signed_payload(R"({"org":"o1","role":"admin","sub":"u"})"), o, &r));
    CHECK(r.metadata == ssehub::metadata{{"org", "o1"}, {"role", "admin"}});
}

TEST_CASE("jwt: topics claim forms", "[jwt]") {
    auto o = options();
    ssehub::auth_result r;
    REQUIRE_FALSE(verify(signed_payload(R"({"topics":"a.b c.*,d.>  ,, e"})"), o, &r));
    REQUIRE(r.allowed_topics);
    CHECK(*r.allowed_topics == std::vector<std::string>{"a.b", "c.*", "d.>", "e"});
    REQUIRE_FALSE(verify(signed_payload(R"({"topics":["x.*"]})"), o, &r));
    CHECK(*r.allowed_topics == std::vector<std::string>{"x.*"});
    REQUIRE_FALSE(verify(signed_payload(R"({"topics":[]})"), o, &r));
    REQUIRE(r.allowed_topics);
    CHECK(r.allowed_topics->empty());  // present but empty: nothing allowed
    REQUIRE_FALSE(verify(signed_payload(R"({"topics":""})"), o, &r));
    CHECK(r.allowed_topics->empty());
    REQUIRE_FALSE(verify(signed_payload(R"({"sub":"u"})"), o, &r));
    CHECK_FALSE(r.allowed_topics);  // absent: no restriction

    CHECK(verify(signed_payload(R"({"topics":["a",1]})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"topics":["a..b"]})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"topics":["a b"]})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"topics":"a.>.b"})"), o) == error::invalid_token);
    CHECK(verify(signed_payload(R"({"topics":{"a":1}})"), o) == error::invalid_token);

    o.topics_claim = "scope";
    REQUIRE_FALSE(verify(signed_payload(R"({"topics":"ignored","scope":"s.1"})"), o, &r));
    CHECK(*r.allowed_topics == std::vector<std::string>{"s.1"});
    o.topics_claim.clear();
    REQUIRE_FALSE(verify(signed_payload(R"({"topics":"a"})"), o, &r));
    CHECK_FALSE(r.allowed_topics);
}

#else

TEST_CASE("jwt: unavailable without OpenSSL", "[jwt]") {
    ssehub::auth_result r;
    CHECK(ssehub::verify_hs256(test_token, options(), r) == error::auth_unavailable);
    CHECK_THROWS_AS(ssehub::sign_hs256(hs256_header, "{}", test_key), std::system_error);
    (void)jwt_io_token;
}

#endif

TEST_CASE("jwt: bearer_token", "[jwt]") {
    const auto req = [](std::string target, std::vector<ssehub::http::header> headers = {}) {
        ssehub::http::request r;
        r.method = "GET";
        r.target = std::move(target);
        r.headers = std::move(headers);
        return r;
    };
    CHECK(ssehub::bearer_token(req("/events", {{"Authorization", "Bearer abc.def.ghi"}})) == "abc.def.ghi");
    CHECK(ssehub::bearer_token(req("/events", {{"authorization", "bEaReR   tok  "}})) == "tok");
    CHECK(ssehub::bearer_token(req("/events", {{"AUTHORIZATION", "BEARER\ttok"}})) == "tok");
    // Header beats query.
    CHECK(ssehub::bearer_token(req("/events?token=q", {{"Authorization", "Bearer h"}})) == "h");
    // Not a bearer header: falls back to the query.
    CHECK(ssehub::bearer_token(req("/events?token=q%2Eb", {{"Authorization", "Basic dXNlcjpwdw=="}})) == "q.b");
    CHECK(ssehub::bearer_token(req("/events?token=q", {{"Authorization", "Bearer"}})) == "q");
    CHECK(ssehub::bearer_token(req("/events?token=q", {{"Authorization", "Bearer   "}})) == "q");
    CHECK(ssehub::bearer_token(req("/events?token=q", {{"Authorization", "Bearerx tok"}})) == "q");
    CHECK(ssehub::bearer_token(req("/events?topics=a&token=t1")) == "t1");
    CHECK_FALSE(ssehub::bearer_token(req("/events")));
    CHECK_FALSE(ssehub::bearer_token(req("/events?token=")));
    CHECK_FALSE(ssehub::bearer_token(req("/events", {{"Authorization", "Basic x"}})));
}
