#include "ssehub/jwt.hpp"

#include "ssehub/base64.hpp"
#include "ssehub/error.hpp"
#include "ssehub/json_value.hpp"
#include "ssehub/topic.hpp"

#include <cmath>
#include <limits>

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

namespace ssehub {
namespace {

constexpr std::size_t sha256_size = 32;

char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL

bool hmac_sha256(std::string_view key, std::string_view data, unsigned char (&mac)[sha256_size]) {
    if (key.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return false;
    unsigned int len = 0;
    const unsigned char* r = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                  reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
    return r != nullptr && len == sha256_size;
}

// Claim `name` as a NumericDate in seconds: nullopt when absent; false in
// `ok` when present but not a number.
std::optional<double> numeric_date(const json::value& claims, std::string_view name, bool& ok) {
    const json::value* v = claims.find(name);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) {
        ok = false;
        return std::nullopt;
    }
    return v->as_double();
}

// Appends the patterns of a topics claim to `out`; false when malformed.
bool read_topics(const json::value& claim, std::vector<std::string>& out) {
    const auto add = [&out](std::string_view p) {
        if (!topic::is_valid_pattern(p, std::numeric_limits<std::size_t>::max())) return false;
        out.emplace_back(p);
        return true;
    };
    if (claim.is_array()) {
        for (const auto& e : claim.as_array()) {
            if (!e.is_string() || !add(e.as_string())) return false;
        }
        return true;
    }
    if (!claim.is_string()) return false;
    std::string_view s = claim.as_string();
    while (!s.empty()) {
        const std::size_t end = s.find_first_of(" ,");
        const std::string_view item = s.substr(0, end);
        if (!item.empty() && !add(item)) return false;
        if (end == std::string_view::npos) break;
        s.remove_prefix(end + 1);
    }
    return true;
}

#endif

}  // namespace

std::error_code verify_hs256(std::string_view token, const jwt_options& options, auth_result& out,
                             std::string* log_message) {
    const auto reject = [log_message](error e, std::string_view why) {
        if (log_message != nullptr) log_message->assign(why);
        return make_error_code(e);
    };
#if !(defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL)
    (void)token;
    (void)options;
    (void)out;
    return reject(error::auth_unavailable, "HS256: ssehub was built without OpenSSL");
#else
    if (options.secret.empty()) return reject(error::invalid_token, "HS256: no secret configured");
    if (token.size() > options.max_token_bytes) return reject(error::invalid_token, "JWT: longer than max_token_bytes");

    const std::size_t dot1 = token.find('.');
    const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
        return reject(error::invalid_token, "JWT: not three dot-separated parts");
    }
    const std::string_view header_b64 = token.substr(0, dot1);
    const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
    const std::string_view signature_b64 = token.substr(dot2 + 1);

    // Header: small, parsed before the signature check only to refuse other algorithms.
    std::string decoded;
    if (!base64url::decode(header_b64, decoded)) return reject(error::invalid_token, "JWT: header is not base64url");
    json::value header;
    json::parse_options header_limits;
    header_limits.max_depth = 8;
    if (!json::parse(decoded, header, nullptr, header_limits) || !header.is_object()) {
        return reject(error::invalid_token, "JWT: header is not a JSON object");
    }
    const json::value* alg = header.find("alg");
    if (alg == nullptr || !alg->is_string() || alg->as_string() != "HS256") {
        return reject(error::invalid_token, "JWT: alg is not HS256");
    }
    if (const json::value* typ = header.find("typ"); typ != nullptr && (!typ->is_string() || !iequals(typ->as_string(), "JWT"))) {
        return reject(error::invalid_token, "JWT: typ is not JWT");
    }
    if (header.find("crit") != nullptr) return reject(error::invalid_token, "JWT: crit header not supported");

    // Signature, in constant time, before anything in the payload is looked at.
    if (!base64url::decode(signature_b64, decoded) || decoded.size() != sha256_size) {
        return reject(error::invalid_token, "JWT: malformed signature");
    }
    unsigned char mac[sha256_size];
    if (!hmac_sha256(options.secret, token.substr(0, dot2), mac)) {
        return reject(error::invalid_token, "HS256: HMAC computation failed");
    }
    if (CRYPTO_memcmp(mac, decoded.data(), sha256_size) != 0) {
        return reject(error::invalid_token, "JWT: signature mismatch");
    }

    if (!base64url::decode(payload_b64, decoded)) return reject(error::invalid_token, "JWT: payload is not base64url");
    json::value claims;
    std::string parse_error;
    if (!json::parse(decoded, claims, &parse_error)) {
        return reject(error::invalid_token, "JWT: payload: " + parse_error);
    }
    if (!claims.is_object()) return reject(error::invalid_token, "JWT: payload is not a JSON object");

    // Time claims, in (fractional) seconds since the epoch.
    const auto now_tp = options.now ? options.now() : std::chrono::system_clock::now();
    const double now = std::chrono::duration<double>(now_tp.time_since_epoch()).count();
    const auto leeway = static_cast<double>(options.leeway.count());
    bool ok = true;
    const auto exp = numeric_date(claims, "exp", ok);
    const auto nbf = numeric_date(claims, "nbf", ok);
    const auto iat = numeric_date(claims, "iat", ok);
    if (!ok) return reject(error::invalid_token, "JWT: exp, nbf or iat is not a number");
    if (!exp && options.require_exp) return reject(error::invalid_token, "JWT: exp missing");
    if (exp && !(now < *exp + leeway)) return reject(error::token_expired, "JWT: expired (exp)");
    if (nbf && now + leeway < *nbf) return reject(error::token_not_yet_valid, "JWT: not yet valid (nbf)");
    if (iat && *iat > now + leeway) return reject(error::token_not_yet_valid, "JWT: issued in the future (iat)");

    if (options.issuer) {
        const json::value* iss = claims.find("iss");
        if (iss == nullptr || !iss->is_string() || iss->as_string() != *options.issuer) {
            return reject(error::invalid_token, "JWT: iss mismatch");
        }
    }
    if (options.audience) {
        const json::value* aud = claims.find("aud");
        bool found = false;
        if (aud != nullptr && aud->is_string()) {
            found = aud->as_string() == *options.audience;
        } else if (aud != nullptr && aud->is_array()) {
            for (const auto& a : aud->as_array()) {
                if (!a.is_string()) return reject(error::invalid_token, "JWT: aud array holds a non-string");
                found = found || a.as_string() == *options.audience;
            }
        }
        if (!found) return reject(error::invalid_token, "JWT: aud mismatch");
    }

    auth_result result;
    if (exp) {  // valid until exp + leeway, as checked above
        const auto until = std::chrono::duration<double>(*exp + leeway);
        result.expires = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(until));
    }
    for (const auto& name : options.metadata_claims) {
        const json::value* v = claims.find(name);
        if (v == nullptr) continue;
        if (v->is_string()) {
            result.metadata.insert_or_assign(name, v->as_string());
        } else if (v->is_number()) {
            result.metadata.insert_or_assign(name, v->number_text());
        } else {
            return reject(error::invalid_token, "JWT: claim " + name + " is not a string or number");
        }
    }
    if (!options.topics_claim.empty()) {
        if (const json::value* t = claims.find(options.topics_claim)) {
            std::vector<std::string> topics;
            if (!read_topics(*t, topics)) {
                return reject(error::invalid_token, "JWT: claim " + options.topics_claim + " is not a list of topic patterns");
            }
            result.allowed_topics = std::move(topics);
        }
    }
    out = std::move(result);
    return {};
#endif
}

std::string sign_hs256(std::string_view header_json, std::string_view payload_json, std::string_view secret) {
#if !(defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL)
    (void)header_json;
    (void)payload_json;
    (void)secret;
    throw std::system_error(make_error_code(error::auth_unavailable));
#else
    std::string token;
    token.reserve(base64url::encoded_size(header_json.size()) + base64url::encoded_size(payload_json.size()) +
                  base64url::encoded_size(sha256_size) + 2);
    base64url::encode(header_json, token);
    token.push_back('.');
    base64url::encode(payload_json, token);
    unsigned char mac[sha256_size];
    if (!hmac_sha256(secret, token, mac)) throw std::system_error(make_error_code(error::auth_unavailable));
    token.push_back('.');
    base64url::encode(std::string_view(reinterpret_cast<const char*>(mac), sha256_size), token);
    return token;
#endif
}

std::optional<std::string> bearer_token(const http::request& request) {
    if (const std::string* h = request.find("Authorization")) {
        const std::string_view v = trim(*h);
        constexpr std::string_view scheme = "bearer";
        if (v.size() > scheme.size() && iequals(v.substr(0, scheme.size()), scheme) &&
            (v[scheme.size()] == ' ' || v[scheme.size()] == '\t')) {
            const std::string_view t = trim(v.substr(scheme.size() + 1));
            if (!t.empty()) return std::string(t);
        }
    }
    if (auto q = request.query_param("token"); q && !q->empty()) return q;
    return std::nullopt;
}

}  // namespace ssehub
