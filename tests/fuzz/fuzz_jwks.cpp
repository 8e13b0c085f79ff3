// fuzz_jwks: jwt_key_set::from_jwks and from_pem on arbitrary text. Either a
// set comes back or jwt_key_error is thrown (never another exception, never a
// crash); a set holds at least one key, at most max_keys, with distinct kids
// and RSA sizes inside the limits; a token verified against it is refused
// (the fuzzer cannot forge a signature) without crashing.
#include "ssehub/error.hpp"
#include "ssehub/jwt.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    ssehub::jwt_key_limits limits;
    limits.max_keys = 8;
    limits.skip_unsupported_keys = size > 0 && (data[0] & 1) != 0;
    for (int pem = 0; pem < 2; ++pem) {
        ssehub::jwt_key_set set(limits);
        try {
            if (pem != 0) set.add_pem(in);
            else set.add_jwks(in);
        } catch (const ssehub::jwt_key_error&) {
            FUZZ_CHECK(set.empty());  // a failed add leaves the set as it was
            continue;
        }
        FUZZ_CHECK(!set.empty() && set.size() <= limits.max_keys);
        std::set<std::string> kids;
        for (const auto& k : set.keys()) {
            if (!k.kid.empty()) FUZZ_CHECK(kids.insert(k.kid).second);
            if (k.alg == ssehub::jwt_alg::rs256) FUZZ_CHECK(k.bits >= limits.min_rsa_bits && k.bits <= limits.max_rsa_bits);
            FUZZ_CHECK(k.alg != ssehub::jwt_alg::hs256);
        }
        ssehub::jwt_options o;
        o.keys = set;
        ssehub::auth_result r;
        for (const char* t : {"eyJhbGciOiJSUzI1NiJ9.e30.AAAA", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
                              "eyJhbGciOiJFZERTQSJ9.e30.AAAA"}) {
            FUZZ_CHECK(ssehub::verify_jwt(t, o, r) == ssehub::error::invalid_token);
        }
    }
    return 0;
}
