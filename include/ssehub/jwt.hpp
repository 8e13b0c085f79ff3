// Bearer tokens: JWT verification (RFC 7519 / RFC 7515) with HS256, RS256,
// ES256 and EdDSA (Ed25519), keys from a secret, PEM or a JWKS (RFC 7517),
// and extraction of the token from a request. Sans-io: pure functions, no
// sockets.
//
// Everything cryptographic needs OpenSSL. ssehub built without it
// (SSEHUB_HAS_OPENSSL undefined or 0) still declares everything: verification
// then always fails with error::auth_unavailable, loading a public key throws
// jwt_key_error and the sign_* helpers throw; check hs256_available /
// jwt_public_keys_available.
//
// Thread safety: free functions and value types. Distinct objects: safe.
// Shared objects: unsafe, except that a jwt_options (and its jwt_key_set) may
// be shared read-only by concurrent verifications if its `now` function is
// safe to call concurrently (parsed keys are immutable and shared by copies).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ssehub/event.hpp"
#include "ssehub/http.hpp"

namespace ssehub {

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
inline constexpr bool hs256_available = true;
#else
inline constexpr bool hs256_available = false;
#endif
// RS256, ES256 and EdDSA: the same condition (OpenSSL's libcrypto).
inline constexpr bool jwt_public_keys_available = hs256_available;

// The JWS algorithms ssehub verifies. Each key type has exactly one: an HMAC
// secret is HS256 only, an RSA key RS256 only, an EC P-256 key ES256 only,
// an Ed25519 key EdDSA only. A token's `alg` must name its key's algorithm,
// so no token is ever checked with a key of another type ("none", HS/RS
// confusion, RS256 against an EC key... are all refused).
enum class jwt_alg : std::uint8_t { hs256, rs256, es256, eddsa };

// "HS256", "RS256", "ES256", "EdDSA" (the JOSE names).
std::string_view to_string(jwt_alg alg) noexcept;

// A key, PEM or JWKS that cannot be used; what() says which and why (never
// the key material).
class jwt_key_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Bounds on what a jwt_key_set accepts.
struct jwt_key_limits {
    std::size_t max_bytes = 64 * 1024;   // a PEM or JWKS text (or file) larger is refused before parsing
    std::size_t max_keys = 32;           // keys in one set (every source together)
    std::size_t min_rsa_bits = 2048;     // smaller RSA moduli are refused
    std::size_t max_rsa_bits = 8192;     // larger ones too (bounds the cost of one verification)
    // false: a JWKS key ssehub cannot use (another kty, crv, `alg` or a `use`
    // other than "sig") is an error; true: it is skipped (a JWKS shared with
    // other services). A malformed key of a supported type is always an error.
    bool skip_unsupported_keys = false;
};

// Verification keys: HMAC secrets and public keys (RSA, EC P-256, Ed25519),
// each with an optional `kid`. A copyable value; copies share the parsed
// (immutable) keys. Every add_* either adds everything it was given or
// throws jwt_key_error and leaves the set unchanged. `kid`s are unique in a
// set (a duplicate is an error); a key without one is allowed.
class jwt_key_set {
public:
    struct key_info {
        std::string kid;       // empty: none
        jwt_alg alg = jwt_alg::hs256;  // the one algorithm the key verifies
        std::size_t bits = 0;  // RSA modulus / EC or Ed25519 size; secret length * 8 for HMAC
    };

    jwt_key_set() = default;
    explicit jwt_key_set(jwt_key_limits limits) : limits_(limits) {}

    // An HMAC secret (raw bytes, not empty) for HS256. No OpenSSL needed to store it.
    jwt_key_set& add_hmac_secret(std::string secret, std::string kid = {});
    // One public key in PEM: `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo,
    // what `openssl pkey -pubout` writes). Private keys and certificates are refused.
    jwt_key_set& add_pem(std::string_view pem, std::string kid = {});
    // A JWK Set: {"keys":[{"kty":"RSA","n":..,"e":..}, {"kty":"EC","crv":"P-256","x":..,"y":..},
    // {"kty":"OKP","crv":"Ed25519","x":..}, ...]}, strict JSON. A key with
    // private members (`d`...) or an `alg` other than its type's is refused.
    jwt_key_set& add_jwks(std::string_view json);
    // The same, read from a file (at most limits().max_bytes).
    jwt_key_set& add_pem_file(const std::string& path, std::string kid = {});
    jwt_key_set& add_jwks_file(const std::string& path);

    static jwt_key_set from_pem(std::string_view pem, std::string kid = {}, jwt_key_limits limits = {}) {
        return std::move(jwt_key_set(limits).add_pem(pem, std::move(kid)));
    }
    static jwt_key_set from_jwks(std::string_view json, jwt_key_limits limits = {}) {
        return std::move(jwt_key_set(limits).add_jwks(json));
    }
    static jwt_key_set from_pem_file(const std::string& path, std::string kid = {}, jwt_key_limits limits = {}) {
        return std::move(jwt_key_set(limits).add_pem_file(path, std::move(kid)));
    }
    static jwt_key_set from_jwks_file(const std::string& path, jwt_key_limits limits = {}) {
        return std::move(jwt_key_set(limits).add_jwks_file(path));
    }

    bool empty() const noexcept { return keys_.empty(); }
    std::size_t size() const noexcept { return keys_.size(); }
    bool has(jwt_alg alg) const noexcept;
    std::vector<key_info> keys() const;  // in the order added
    const jwt_key_limits& limits() const noexcept { return limits_; }

    struct key;  // opaque (src/jwt.cpp)

private:
    friend struct jwt_key_access;
    jwt_key_set& append(std::vector<std::shared_ptr<const key>> more);

    jwt_key_limits limits_;
    std::vector<std::shared_ptr<const key>> keys_;
};

// Who the bearer is, as an authenticator reports it.
struct auth_result {
    ssehub::metadata metadata;                               // becomes the connection's metadata
    std::optional<std::vector<std::string>> allowed_topics;  // patterns the bearer may subscribe to; nullopt: no limit
    // Until when the credential is valid (a JWT's exp + leeway); the stream
    // ends then (auth_outcome::expires). nullopt: no expiry.
    std::optional<std::chrono::system_clock::time_point> expires;
    // The payload's JSON text, when jwt_options::keep_claims (claims ssehub
    // does not read itself: Mercure's grants, your own).
    std::string claims;
};

struct jwt_options {
    std::string secret;                    // HS256 key (raw bytes), as a key without kid; empty: none
    jwt_key_set keys;                      // more keys: public keys (PEM, JWKS) and HMAC secrets with kids
    std::chrono::seconds leeway{30};       // clock skew allowed on exp, nbf and iat
    std::optional<std::string> issuer;     // when set, `iss` must equal it
    std::optional<std::string> audience;   // when set, `aud` (string, or array of strings) must contain it
    bool require_exp = false;              // false: `exp` is optional, but enforced when present
    std::vector<std::string> metadata_claims{"tenant_id", "sub"};  // copied to metadata when present
    std::string topics_claim = "topics";   // empty: no topic restriction is read from the token
    std::size_t max_token_bytes = 8192;    // longer tokens are rejected before any decoding
    // Header `typ` values accepted when present (ASCII case-insensitive, an
    // "application/" prefix ignored); Mercure's access tokens add "at+jwt".
    std::vector<std::string> types{"JWT"};
    bool keep_claims = false;              // true: auth_result::claims gets the payload's JSON text
    std::function<std::chrono::system_clock::time_point()> now;  // empty: system_clock::now (tests inject)
};

// Verifies a compact JWS `header.payload.signature` (verify_jwt):
//  - exactly three base64url parts (no padding), header and payload JSON objects
//    (strict parser; duplicate member names rejected);
//  - header `alg` exactly "HS256", "RS256", "ES256" or "EdDSA" ("none",
//    "hs256", "HS512"... rejected), `typ` if present one of options.types
//    (default "JWT"; ASCII case-insensitive, "application/" prefix ignored), `kid` if present a string, no `crit`;
//  - the key (options.secret counts as an HS256 key without kid):
//    a token with `kid` K takes the key whose kid is K, and is rejected when
//    that key's algorithm is not `alg`; with no key named K, the only key
//    without kid for `alg`, else it is rejected. A token without `kid` takes
//    the only key for `alg`, and is rejected when there are none or several;
//  - the signature over `header.payload`, checked before the payload is
//    parsed: HS256 HMAC-SHA256 compared in constant time; RS256 RSASSA-PKCS1-v1_5
//    SHA-256; ES256 ECDSA P-256 SHA-256 as JOSE's 64-byte r||s; EdDSA Ed25519;
//  - `exp` (if present; required when require_exp): now < exp + leeway, else
//    token_expired; `nbf` (if present): now >= nbf - leeway, and `iat` (if
//    present): iat <= now + leeway, else token_not_yet_valid. All three must
//    be JSON numbers (fractions allowed) when present;
//  - `iss` / `aud` when configured;
//  - each of metadata_claims that is present: a string is copied as is, a
//    number as its JSON text; any other type rejects the token;
//  - topics_claim, if present: an array of strings or one string of patterns
//    separated by spaces and/or commas; every pattern must be a valid topic
//    pattern (topic::is_valid_pattern, no length limit here).
// On success fills `out` and returns {}. Otherwise returns invalid_token,
// token_expired, token_not_yet_valid or auth_unavailable, leaves `out`
// unchanged, and writes the reason to *log_message (for the server log only:
// never send it to the client).
std::error_code verify_jwt(std::string_view token, const jwt_options& options, auth_result& out,
                           std::string* log_message = nullptr);

// verify_jwt accepting only `alg` HS256 (the keys for other algorithms are ignored).
std::error_code verify_hs256(std::string_view token, const jwt_options& options, auth_result& out,
                             std::string* log_message = nullptr);

// base64url(header_json) "." base64url(payload_json) "." base64url(HMAC-SHA256).
// The JSON texts are used as given (not validated), so tests can sign malformed
// ones. Throws std::system_error(error::auth_unavailable) without OpenSSL.
std::string sign_hs256(std::string_view header_json, std::string_view payload_json, std::string_view secret);

// The same with a private key in PEM (PKCS#8 `BEGIN PRIVATE KEY`, or the
// traditional RSA/EC forms): an RSA key signs RS256, an EC P-256 key ES256
// (JOSE r||s), an Ed25519 key EdDSA. The header is used as given: write the
// matching `alg` (and `kid`) in it. For tests and tools; a server that only
// verifies never needs it. Throws jwt_key_error for an unusable key, and
// std::system_error(error::auth_unavailable) without OpenSSL.
std::string sign_jwt(std::string_view header_json, std::string_view payload_json, std::string_view private_key_pem);

// The bearer token of a request: `Authorization: Bearer <token>` (scheme
// ASCII case-insensitive, token trimmed), else the `?token=` query parameter
// (percent-decoded). nullopt when neither gives a non-empty token.
std::optional<std::string> bearer_token(const http::request& request);

}  // namespace ssehub
