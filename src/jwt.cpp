#include "ssehub/jwt.hpp"
#include "ascii.hpp"

#include "ssehub/base64.hpp"
#include "ssehub/error.hpp"
#include "ssehub/json_value.hpp"
#include "ssehub/topic.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#endif

namespace ssehub {

struct jwt_key_set::key {
    std::string kid;
    jwt_alg alg = jwt_alg::hs256;
    std::size_t bits = 0;
    std::string secret;  // HS256
#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
    EVP_PKEY* pkey = nullptr;  // the others; owned
    key() = default;
    key(const key&) = delete;
    key& operator=(const key&) = delete;
    ~key() { EVP_PKEY_free(pkey); }
#endif
};

struct jwt_key_access {
    static const std::vector<std::shared_ptr<const jwt_key_set::key>>& keys(const jwt_key_set& s) noexcept {
        return s.keys_;
    }
};

namespace {

using ssehub::detail::ascii::trim_ows;

using ssehub::detail::ascii::iequals;

using key_ptr = std::shared_ptr<const jwt_key_set::key>;

constexpr std::size_t sha256_size = 32;
constexpr std::size_t p256_coordinate = 32;
constexpr std::size_t ed25519_size = 32;

std::string shown(std::string_view s) {  // a config value in an error message, bounded
    return "\"" + std::string(s.substr(0, 32)) + (s.size() > 32 ? "...\"" : "\"");
}

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL

bool hmac_sha256(std::string_view key, std::string_view data, unsigned char (&mac)[sha256_size]) {
    if (key.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return false;
    unsigned int len = 0;
    const unsigned char* r = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                  reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
    return r != nullptr && len == sha256_size;
}

const unsigned char* bytes(std::string_view s) noexcept { return reinterpret_cast<const unsigned char*>(s.data()); }

struct pkey_deleter {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct bio_deleter {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct md_ctx_deleter {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
struct ecdsa_sig_deleter {
    void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); }
};
using pkey_holder = std::unique_ptr<EVP_PKEY, pkey_deleter>;

// Never prompts: keys given to ssehub are not encrypted.
int no_passphrase(char*, int, int, void*) { return 0; }

// A BIO reading `text`, or nullptr.
std::unique_ptr<BIO, bio_deleter> memory_bio(std::string_view text) {
    if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
    return std::unique_ptr<BIO, bio_deleter>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// --- DER, just enough for SubjectPublicKeyInfo from JWK members ---

void der_length(std::string& out, std::size_t n) {
    if (n < 0x80) {
        out.push_back(static_cast<char>(n));
        return;
    }
    unsigned char buf[sizeof(std::size_t)];
    int k = 0;
    for (; n != 0; n >>= 8) buf[k++] = static_cast<unsigned char>(n & 0xff);
    out.push_back(static_cast<char>(0x80 | k));
    while (k > 0) out.push_back(static_cast<char>(buf[--k]));
}

std::string der(unsigned char tag, std::string_view content) {
    std::string out(1, static_cast<char>(tag));
    der_length(out, content.size());
    out.append(content);
    return out;
}

// INTEGER from a big-endian unsigned magnitude (not empty).
std::string der_unsigned(std::string_view magnitude) {
    while (magnitude.size() > 1 && magnitude.front() == '\0') magnitude.remove_prefix(1);
    std::string content;
    if (static_cast<unsigned char>(magnitude.front()) & 0x80) content.push_back('\0');
    content.append(magnitude);
    return der(0x02, content);
}

std::string hex_bytes(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        const auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
        out.push_back(static_cast<char>(nib(hex[i]) * 16 + nib(hex[i + 1])));
    }
    return out;
}

// AlgorithmIdentifiers: rsaEncryption + NULL; id-ecPublicKey + prime256v1; id-Ed25519.
const std::string& rsa_algid() {
    static const std::string v = hex_bytes("300d06092a864886f70d0101010500");
    return v;
}
const std::string& p256_algid() {
    static const std::string v = hex_bytes("301306072a8648ce3d020106082a8648ce3d030107");
    return v;
}
const std::string& ed25519_algid() {
    static const std::string v = hex_bytes("300506032b6570");
    return v;
}

std::string spki(const std::string& algid, std::string_view public_key) {
    std::string bits(1, '\0');  // no unused bits
    bits.append(public_key);
    return der(0x30, algid + der(0x03, bits));
}

pkey_holder pkey_from_spki(std::string_view der_text) {
    const unsigned char* p = bytes(der_text);
    pkey_holder k(d2i_PUBKEY(nullptr, &p, static_cast<long>(der_text.size())));
    if (!k || p != bytes(der_text) + der_text.size()) {
        ERR_clear_error();
        return nullptr;
    }
    return k;
}

// The DER SubjectPublicKeyInfo of `k` (public part of a private key too).
std::string spki_of(EVP_PKEY* k) {
    const int n = i2d_PUBKEY(k, nullptr);
    if (n <= 0) return {};
    std::string out(static_cast<std::size_t>(n), '\0');
    unsigned char* p = reinterpret_cast<unsigned char*>(out.data());
    if (i2d_PUBKEY(k, &p) != n) return {};
    return out;
}

// The algorithm of a key, checked against the limits; throws jwt_key_error.
jwt_alg classify(EVP_PKEY* k, const jwt_key_limits& limits, std::string_view where, std::size_t& bits) {
    switch (EVP_PKEY_id(k)) {
    case EVP_PKEY_RSA: {
        bits = static_cast<std::size_t>(EVP_PKEY_bits(k));
        if (bits < limits.min_rsa_bits || bits > limits.max_rsa_bits) {
            throw jwt_key_error(std::string(where) + ": RSA key of " + std::to_string(bits) + " bits, outside " +
                                std::to_string(limits.min_rsa_bits) + ".." + std::to_string(limits.max_rsa_bits));
        }
        return jwt_alg::rs256;
    }
    case EVP_PKEY_EC: {
        // The curve, read from the AlgorithmIdentifier (no deprecated EC_KEY calls).
        const std::string d = spki_of(k);
        if (d.size() < 2 + p256_algid().size() || d.compare(2, p256_algid().size(), p256_algid()) != 0) {
            throw jwt_key_error(std::string(where) + ": EC key not on P-256 (ES256 needs P-256)");
        }
        bits = 256;
        return jwt_alg::es256;
    }
    case EVP_PKEY_ED25519: bits = 256; return jwt_alg::eddsa;
    default:
        throw jwt_key_error(std::string(where) + ": key type not supported (RSA, EC P-256 or Ed25519)");
    }
}

std::shared_ptr<jwt_key_set::key> make_key(pkey_holder k, std::string kid, const jwt_key_limits& limits,
                                           std::string_view where) {
    auto out = std::make_shared<jwt_key_set::key>();
    out->alg = classify(k.get(), limits, where, out->bits);
    out->kid = std::move(kid);
    out->pkey = k.release();
    return out;
}

key_ptr key_from_pem(std::string_view pem, std::string kid, const jwt_key_limits& limits) {
    if (pem.size() > limits.max_bytes) {
        throw jwt_key_error("PEM: " + std::to_string(pem.size()) + " bytes, more than max_bytes (" +
                            std::to_string(limits.max_bytes) + ")");
    }
    if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
        throw jwt_key_error("PEM: holds a private key; give its public key (openssl pkey -in key.pem -pubout)");
    }
    if (pem.find("BEGIN CERTIFICATE") != std::string_view::npos) {
        throw jwt_key_error("PEM: a certificate; give its public key (openssl x509 -in cert.pem -pubkey -noout)");
    }
    if (pem.find("BEGIN RSA PUBLIC KEY") != std::string_view::npos) {
        throw jwt_key_error("PEM: a PKCS#1 RSA PUBLIC KEY; convert it (openssl rsa -RSAPublicKey_in -in key.pem -pubout)");
    }
    auto bio = memory_bio(pem);
    pkey_holder k(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
    if (!k) {
        ERR_clear_error();
        throw jwt_key_error("PEM: no -----BEGIN PUBLIC KEY----- block that OpenSSL can read");
    }
    return make_key(std::move(k), std::move(kid), limits, "PEM");
}

// A string member: nullopt when absent; throws when present but not a string.
std::optional<std::string_view> string_member(const json::value& o, std::string_view name, const std::string& where) {
    const json::value* v = o.find(name);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) throw jwt_key_error(where + ": \"" + std::string(name) + "\" is not a string");
    return std::string_view(v->as_string());
}

// A base64url member that must be present; `size` 0: any non-empty size.
std::string b64_member(const json::value& o, std::string_view name, std::size_t size, const std::string& where) {
    const auto v = string_member(o, name, where);
    if (!v) throw jwt_key_error(where + ": \"" + std::string(name) + "\" missing");
    std::string out;
    if (!base64url::decode(*v, out)) throw jwt_key_error(where + ": \"" + std::string(name) + "\" is not base64url");
    if (out.empty() || (size != 0 && out.size() != size)) {
        throw jwt_key_error(where + ": \"" + std::string(name) + "\" has " + std::to_string(out.size()) +
                            " bytes" + (size != 0 ? ", not " + std::to_string(size) : std::string()));
    }
    return out;
}

// One JWK; nullptr when skipped (limits.skip_unsupported_keys).
key_ptr key_from_jwk(const json::value& jwk, const jwt_key_limits& limits, const std::string& where) {
    const auto unsupported = [&](std::string why) -> key_ptr {
        if (limits.skip_unsupported_keys) return nullptr;
        throw jwt_key_error(where + ": " + why);
    };
    if (!jwk.is_object()) throw jwt_key_error(where + ": not a JSON object");
    const auto kty = string_member(jwk, "kty", where);
    if (!kty) throw jwt_key_error(where + ": \"kty\" missing");
    const auto kid = string_member(jwk, "kid", where);
    for (const char* priv : {"d", "p", "q", "dp", "dq", "qi", "oth"}) {
        if (jwk.find(priv) != nullptr) {
            throw jwt_key_error(where + ": holds private key material (\"" + priv + "\"); publish public keys only");
        }
    }
    if (const auto use = string_member(jwk, "use", where); use && *use != "sig") {
        return unsupported("\"use\" is " + shown(*use) + ", not \"sig\"");
    }
    const auto alg = string_member(jwk, "alg", where);
    const auto alg_is = [&](std::string_view expected) { return !alg || *alg == expected; };

    std::string der_text;
    if (*kty == "RSA") {
        if (!alg_is("RS256")) return unsupported("alg " + shown(*alg) + " not supported for kty RSA (RS256)");
        const std::string n = b64_member(jwk, "n", 0, where);
        const std::string e = b64_member(jwk, "e", 0, where);
        if (e.size() > 8) throw jwt_key_error(where + ": \"e\" is longer than 8 bytes");
        der_text = spki(rsa_algid(), der(0x30, der_unsigned(n) + der_unsigned(e)));
    } else if (*kty == "EC") {
        const auto crv = string_member(jwk, "crv", where);
        if (!crv) throw jwt_key_error(where + ": \"crv\" missing");
        if (*crv != "P-256") return unsupported("crv " + shown(*crv) + " not supported for kty EC (P-256)");
        if (!alg_is("ES256")) return unsupported("alg " + shown(*alg) + " not supported for kty EC (ES256)");
        std::string point(1, '\x04');  // uncompressed
        point += b64_member(jwk, "x", p256_coordinate, where);
        point += b64_member(jwk, "y", p256_coordinate, where);
        der_text = spki(p256_algid(), point);
    } else if (*kty == "OKP") {
        const auto crv = string_member(jwk, "crv", where);
        if (!crv) throw jwt_key_error(where + ": \"crv\" missing");
        if (*crv != "Ed25519") return unsupported("crv " + shown(*crv) + " not supported for kty OKP (Ed25519)");
        if (!alg_is("EdDSA")) return unsupported("alg " + shown(*alg) + " not supported for kty OKP (EdDSA)");
        der_text = spki(ed25519_algid(), b64_member(jwk, "x", ed25519_size, where));
    } else if (*kty == "oct") {
        return unsupported("kty \"oct\" (a shared secret) does not belong in a JWKS; use jwt_options::secret");
    } else {
        return unsupported("kty " + shown(*kty) + " not supported (RSA, EC or OKP)");
    }
    pkey_holder k = pkey_from_spki(der_text);
    if (!k) throw jwt_key_error(where + ": not a valid " + std::string(*kty) + " public key");
    return make_key(std::move(k), kid ? std::string(*kid) : std::string(), limits, where);
}

std::vector<key_ptr> keys_from_jwks(std::string_view text, const jwt_key_limits& limits) {
    if (text.size() > limits.max_bytes) {
        throw jwt_key_error("JWKS: " + std::to_string(text.size()) + " bytes, more than max_bytes (" +
                            std::to_string(limits.max_bytes) + ")");
    }
    json::value doc;
    std::string why;
    json::parse_options po;
    po.max_depth = 8;
    po.max_bytes = limits.max_bytes;
    if (!json::parse(text, doc, &why, po)) throw jwt_key_error("JWKS: not valid JSON: " + why);
    const json::value* keys = doc.find("keys");
    if (keys == nullptr || !keys->is_array()) throw jwt_key_error("JWKS: not an object with a \"keys\" array");
    if (keys->as_array().size() > limits.max_keys) {
        throw jwt_key_error("JWKS: " + std::to_string(keys->as_array().size()) + " keys, more than max_keys (" +
                            std::to_string(limits.max_keys) + ")");
    }
    std::vector<key_ptr> out;
    for (std::size_t i = 0; i < keys->as_array().size(); ++i) {
        if (auto k = key_from_jwk(keys->as_array()[i], limits, "JWKS: keys[" + std::to_string(i) + "]")) {
            out.push_back(std::move(k));
        }
    }
    if (out.empty()) throw jwt_key_error("JWKS: no usable key");
    return out;
}

// ES256: JOSE's r||s (32 bytes each) as the DER ECDSA-Sig-Value EVP expects.
std::string es256_der(std::string_view raw) {
    std::unique_ptr<ECDSA_SIG, ecdsa_sig_deleter> sig(ECDSA_SIG_new());
    if (!sig) return {};
    BIGNUM* r = BN_bin2bn(bytes(raw), static_cast<int>(p256_coordinate), nullptr);
    BIGNUM* s = BN_bin2bn(bytes(raw) + p256_coordinate, static_cast<int>(p256_coordinate), nullptr);
    if (r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return {};
    }
    const int n = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (n <= 0) return {};
    std::string out(static_cast<std::size_t>(n), '\0');
    unsigned char* p = reinterpret_cast<unsigned char*>(out.data());
    if (i2d_ECDSA_SIG(sig.get(), &p) != n) return {};
    return out;
}

// The DER signature `der_sig` as JOSE's r||s; empty on failure.
std::string es256_raw(std::string_view der_sig) {
    const unsigned char* p = bytes(der_sig);
    std::unique_ptr<ECDSA_SIG, ecdsa_sig_deleter> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_sig.size())));
    if (!sig) return {};
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    std::string out(2 * p256_coordinate, '\0');
    unsigned char* o = reinterpret_cast<unsigned char*>(out.data());
    if (BN_bn2binpad(r, o, static_cast<int>(p256_coordinate)) < 0 ||
        BN_bn2binpad(s, o + p256_coordinate, static_cast<int>(p256_coordinate)) < 0) {
        return {};
    }
    return out;
}

// EVP_DigestVerify with SHA-256 (RS256, ES256) or none (Ed25519).
bool evp_verify(EVP_PKEY* k, const EVP_MD* md, std::string_view input, std::string_view sig) {
    std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
    const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, k) == 1 &&
                    EVP_DigestVerify(ctx.get(), bytes(sig), sig.size(), bytes(input), input.size()) == 1;
    if (!ok) ERR_clear_error();
    return ok;
}

std::string evp_sign(EVP_PKEY* k, const EVP_MD* md, std::string_view input) {
    std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, k) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, bytes(input), input.size()) != 1) {
        ERR_clear_error();
        return {};
    }
    std::string out(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, bytes(input), input.size()) != 1) {
        ERR_clear_error();
        return {};
    }
    out.resize(len);
    return out;
}

// A key as verification sees it: options.secret is an HS256 key without kid.
struct key_ref {
    jwt_alg alg;
    std::string_view kid;
    std::string_view secret;
    EVP_PKEY* pkey;
};

template <class F>
void for_each_key(const jwt_options& o, F&& f) {
    if (!o.secret.empty()) f(key_ref{jwt_alg::hs256, {}, o.secret, nullptr});
    for (const auto& k : jwt_key_access::keys(o.keys)) f(key_ref{k->alg, k->kid, k->secret, k->pkey});
}

// The key a token names (see verify_jwt); nullopt with `why` set when none fits.
std::optional<key_ref> select_key(const jwt_options& o, jwt_alg alg, const std::string* kid, std::string& why) {
    const std::string alg_name(to_string(alg));
    std::optional<key_ref> found;
    std::size_t count = 0;
    if (kid != nullptr) {
        for_each_key(o, [&](const key_ref& k) {
            if (!k.kid.empty() && k.kid == *kid) found = k;
        });
        if (found) {
            if (found->alg != alg) {
                why = "JWT: alg " + alg_name + " does not match the key named by kid (" +
                      std::string(to_string(found->alg)) + ")";
                return std::nullopt;
            }
            return found;
        }
        for_each_key(o, [&](const key_ref& k) {
            if (k.kid.empty() && k.alg == alg) {
                found = k;
                ++count;
            }
        });
        if (count == 1) return found;
        why = count == 0 ? "JWT: no key with the token's kid" : "JWT: unknown kid and several " + alg_name + " keys without kid";
        return std::nullopt;
    }
    for_each_key(o, [&](const key_ref& k) {
        if (k.alg == alg) {
            found = k;
            ++count;
        }
    });
    if (count == 1) return found;
    why = count == 0 ? "JWT: no " + alg_name + " key configured"
                     : "JWT: no kid, and " + std::to_string(count) + " " + alg_name + " keys configured";
    return std::nullopt;
}

bool check_signature(const key_ref& k, std::string_view input, std::string_view sig) {
    switch (k.alg) {
    case jwt_alg::hs256: {
        unsigned char mac[sha256_size];
        return sig.size() == sha256_size && hmac_sha256(k.secret, input, mac) &&
               CRYPTO_memcmp(mac, sig.data(), sha256_size) == 0;
    }
    case jwt_alg::rs256:
        // RFC 7518 3.3: the signature is exactly as long as the modulus.
        return sig.size() == static_cast<std::size_t>(EVP_PKEY_size(k.pkey)) && evp_verify(k.pkey, EVP_sha256(), input, sig);
    case jwt_alg::es256: {
        if (sig.size() != 2 * p256_coordinate) return false;
        const std::string d = es256_der(sig);
        return !d.empty() && evp_verify(k.pkey, EVP_sha256(), input, d);
    }
    case jwt_alg::eddsa: return sig.size() == 64 && evp_verify(k.pkey, nullptr, input, sig);
    }
    return false;
}

std::optional<jwt_alg> alg_of(std::string_view name) noexcept {
    if (name == "HS256") return jwt_alg::hs256;
    if (name == "RS256") return jwt_alg::rs256;
    if (name == "ES256") return jwt_alg::es256;
    if (name == "EdDSA") return jwt_alg::eddsa;
    return std::nullopt;
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

std::string read_key_file(const std::string& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw jwt_key_error(path + ": cannot open");
    std::string data;
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        data.append(buf, static_cast<std::size_t>(in.gcount()));
        if (data.size() > max_bytes) {
            throw jwt_key_error(path + ": larger than max_bytes (" + std::to_string(max_bytes) + ")");
        }
    }
    if (in.bad()) throw jwt_key_error(path + ": read error");
    return data;
}

#if !(defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL)
[[noreturn]] void no_openssl(std::string_view what) {
    throw jwt_key_error(std::string(what) + ": ssehub was built without OpenSSL (no public-key JWT)");
}
#endif

std::error_code verify_impl(std::string_view token, const jwt_options& options, auth_result& out,
                            std::string* log_message, bool hs256_only) {
    const auto reject = [log_message](error e, std::string_view why) {
        if (log_message != nullptr) log_message->assign(why);
        return make_error_code(e);
    };
#if !(defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL)
    (void)token;
    (void)options;
    (void)out;
    (void)hs256_only;
    return reject(error::auth_unavailable, "JWT: ssehub was built without OpenSSL");
#else
    if (options.secret.empty() && options.keys.empty()) return reject(error::invalid_token, "JWT: no key configured");
    if (token.size() > options.max_token_bytes) return reject(error::invalid_token, "JWT: longer than max_token_bytes");

    const std::size_t dot1 = token.find('.');
    const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
        return reject(error::invalid_token, "JWT: not three dot-separated parts");
    }
    const std::string_view header_b64 = token.substr(0, dot1);
    const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
    const std::string_view signature_b64 = token.substr(dot2 + 1);

    // Header: small, parsed before the signature check to choose the key.
    std::string decoded;
    if (!base64url::decode(header_b64, decoded)) return reject(error::invalid_token, "JWT: header is not base64url");
    json::value header;
    json::parse_options header_limits;
    header_limits.max_depth = 8;
    if (!json::parse(decoded, header, nullptr, header_limits) || !header.is_object()) {
        return reject(error::invalid_token, "JWT: header is not a JSON object");
    }
    const json::value* alg_v = header.find("alg");
    const auto alg = alg_v != nullptr && alg_v->is_string() ? alg_of(alg_v->as_string()) : std::nullopt;
    if (hs256_only && alg != jwt_alg::hs256) return reject(error::invalid_token, "JWT: alg is not HS256");
    if (!alg) return reject(error::invalid_token, "JWT: alg is not HS256, RS256, ES256 or EdDSA");
    if (const json::value* typ = header.find("typ"); typ != nullptr && (!typ->is_string() || !iequals(typ->as_string(), "JWT"))) {
        return reject(error::invalid_token, "JWT: typ is not JWT");
    }
    if (header.find("crit") != nullptr) return reject(error::invalid_token, "JWT: crit header not supported");
    const json::value* kid = header.find("kid");
    if (kid != nullptr && !kid->is_string()) return reject(error::invalid_token, "JWT: kid is not a string");

    std::string why;
    const auto key = select_key(options, *alg, kid != nullptr ? &kid->as_string() : nullptr, why);
    if (!key) return reject(error::invalid_token, why);

    // The signature, before anything in the payload is looked at.
    if (!base64url::decode(signature_b64, decoded) || decoded.empty()) {
        return reject(error::invalid_token, "JWT: malformed signature");
    }
    if (!check_signature(*key, token.substr(0, dot2), decoded)) {
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

}  // namespace

std::string_view to_string(jwt_alg alg) noexcept {
    switch (alg) {
    case jwt_alg::hs256: return "HS256";
    case jwt_alg::rs256: return "RS256";
    case jwt_alg::es256: return "ES256";
    case jwt_alg::eddsa: return "EdDSA";
    }
    return "?";
}

jwt_key_set& jwt_key_set::append(std::vector<std::shared_ptr<const key>> more) {
    if (keys_.size() + more.size() > limits_.max_keys) {
        throw jwt_key_error("key set: more than max_keys (" + std::to_string(limits_.max_keys) + ") keys");
    }
    for (std::size_t i = 0; i < more.size(); ++i) {
        const std::string& kid = more[i]->kid;
        if (kid.empty()) continue;
        const auto same = [&kid](const std::shared_ptr<const key>& k) { return k->kid == kid; };
        if (std::any_of(keys_.begin(), keys_.end(), same) || std::any_of(more.begin(), more.begin() + static_cast<std::ptrdiff_t>(i), same)) {
            throw jwt_key_error("key set: duplicate kid " + shown(kid));
        }
    }
    keys_.insert(keys_.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    return *this;
}

jwt_key_set& jwt_key_set::add_hmac_secret(std::string secret, std::string kid) {
    if (secret.empty()) throw jwt_key_error("HMAC secret: empty");
    auto k = std::make_shared<key>();
    k->alg = jwt_alg::hs256;
    k->bits = secret.size() * 8;
    k->secret = std::move(secret);
    k->kid = std::move(kid);
    return append({std::move(k)});
}

jwt_key_set& jwt_key_set::add_pem(std::string_view pem, std::string kid) {
#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
    return append({key_from_pem(pem, std::move(kid), limits_)});
#else
    (void)pem;
    (void)kid;
    no_openssl("PEM");
#endif
}

jwt_key_set& jwt_key_set::add_jwks(std::string_view json) {
#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL
    return append(keys_from_jwks(json, limits_));
#else
    (void)json;
    no_openssl("JWKS");
#endif
}

jwt_key_set& jwt_key_set::add_pem_file(const std::string& path, std::string kid) {
    const std::string text = read_key_file(path, limits_.max_bytes);
    try {
        return add_pem(text, std::move(kid));
    } catch (const jwt_key_error& e) {
        throw jwt_key_error(path + ": " + e.what());
    }
}

jwt_key_set& jwt_key_set::add_jwks_file(const std::string& path) {
    const std::string text = read_key_file(path, limits_.max_bytes);
    try {
        return add_jwks(text);
    } catch (const jwt_key_error& e) {
        throw jwt_key_error(path + ": " + e.what());
    }
}

bool jwt_key_set::has(jwt_alg alg) const noexcept {
    return std::any_of(keys_.begin(), keys_.end(), [alg](const auto& k) { return k->alg == alg; });
}

std::vector<jwt_key_set::key_info> jwt_key_set::keys() const {
    std::vector<key_info> out;
    out.reserve(keys_.size());
    for (const auto& k : keys_) out.push_back(key_info{k->kid, k->alg, k->bits});
    return out;
}

std::error_code verify_jwt(std::string_view token, const jwt_options& options, auth_result& out,
                           std::string* log_message) {
    return verify_impl(token, options, out, log_message, false);
}

std::error_code verify_hs256(std::string_view token, const jwt_options& options, auth_result& out,
                             std::string* log_message) {
    return verify_impl(token, options, out, log_message, true);
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

std::string sign_jwt(std::string_view header_json, std::string_view payload_json, std::string_view private_key_pem) {
#if !(defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL)
    (void)header_json;
    (void)payload_json;
    (void)private_key_pem;
    throw std::system_error(make_error_code(error::auth_unavailable));
#else
    auto bio = memory_bio(private_key_pem);
    pkey_holder k(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
    if (!k) {
        ERR_clear_error();
        throw jwt_key_error("sign_jwt: no unencrypted private key in the PEM");
    }
    std::size_t bits = 0;
    jwt_key_limits any_size;
    any_size.min_rsa_bits = 0;
    any_size.max_rsa_bits = std::numeric_limits<std::size_t>::max();
    const jwt_alg alg = classify(k.get(), any_size, "sign_jwt", bits);
    std::string token;
    base64url::encode(header_json, token);
    token.push_back('.');
    base64url::encode(payload_json, token);
    std::string sig;
    switch (alg) {
    case jwt_alg::rs256: sig = evp_sign(k.get(), EVP_sha256(), token); break;
    case jwt_alg::es256: sig = es256_raw(evp_sign(k.get(), EVP_sha256(), token)); break;
    case jwt_alg::eddsa: sig = evp_sign(k.get(), nullptr, token); break;
    case jwt_alg::hs256: break;
    }
    if (sig.empty()) throw jwt_key_error("sign_jwt: signing failed");
    token.push_back('.');
    base64url::encode(sig, token);
    return token;
#endif
}

std::optional<std::string> bearer_token(const http::request& request) {
    if (const std::string* h = request.find("Authorization")) {
        const std::string_view v = trim_ows(*h);
        constexpr std::string_view scheme = "bearer";
        if (v.size() > scheme.size() && iequals(v.substr(0, scheme.size()), scheme) &&
            (v[scheme.size()] == ' ' || v[scheme.size()] == '\t')) {
            const std::string_view t = trim_ows(v.substr(scheme.size() + 1));
            if (!t.empty()) return std::string(t);
        }
    }
    if (auto q = request.query_param("token"); q && !q->empty()) return q;
    return std::nullopt;
}

}  // namespace ssehub
