// Test keys for the JWT tests: fresh RSA 2048, EC P-256 and Ed25519 key pairs
// made with libcrypto, their PEM forms and their JWK (public members only).
// Only with OpenSSL (SSEHUB_HAS_OPENSSL); the test target links OpenSSL::Crypto.
#pragma once

#if defined(SSEHUB_HAS_OPENSSL) && SSEHUB_HAS_OPENSSL

#include <ssehub/base64.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace test::jwt {

enum class key_type { rsa, ec, ed25519, ec_p384 };

struct key_pair {
    std::string private_pem;
    std::string public_pem;
    std::string spki;  // DER SubjectPublicKeyInfo
};

namespace detail {

inline std::string bio_text(BIO* b) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

// The content of the DER element at the front of `in` (which must have tag
// `tag`), removing it from `in`.
inline std::string_view der_take(std::string_view& in, unsigned char tag) {
    if (in.size() < 2 || static_cast<unsigned char>(in[0]) != tag) throw std::runtime_error("DER: unexpected tag");
    std::size_t len = static_cast<unsigned char>(in[1]);
    std::size_t at = 2;
    if (len & 0x80) {
        const std::size_t k = len & 0x7f;
        len = 0;
        for (std::size_t i = 0; i < k; ++i) len = len << 8 | static_cast<unsigned char>(in[2 + i]);
        at += k;
    }
    const std::string_view content = in.substr(at, len);
    in.remove_prefix(at + len);
    return content;
}

}  // namespace detail

inline key_pair generate(key_type type, int rsa_bits = 2048) {
    const int id = type == key_type::rsa ? EVP_PKEY_RSA : type == key_type::ed25519 ? EVP_PKEY_ED25519 : EVP_PKEY_EC;
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_id(id, nullptr),
                                                                    EVP_PKEY_CTX_free);
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) throw std::runtime_error("keygen init");
    if (type == key_type::rsa && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), rsa_bits) != 1)
        throw std::runtime_error("rsa bits");
    if (type == key_type::ec &&
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) != 1)
        throw std::runtime_error("ec curve");
    if (type == key_type::ec_p384 && EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_secp384r1) != 1)
        throw std::runtime_error("ec curve");
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_keygen(ctx.get(), &raw) != 1) throw std::runtime_error("keygen");
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> k(raw, EVP_PKEY_free);

    key_pair out;
    std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> pub(BIO_new(BIO_s_mem()), BIO_free);
    if (PEM_write_bio_PrivateKey(priv.get(), k.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
        PEM_write_bio_PUBKEY(pub.get(), k.get()) != 1)
        throw std::runtime_error("PEM");
    out.private_pem = detail::bio_text(priv.get());
    out.public_pem = detail::bio_text(pub.get());
    const int n = i2d_PUBKEY(k.get(), nullptr);
    out.spki.resize(static_cast<std::size_t>(n));
    unsigned char* p = reinterpret_cast<unsigned char*>(out.spki.data());
    i2d_PUBKEY(k.get(), &p);
    return out;
}

// One key pair of each kind per test run (RSA generation is slow).
inline const key_pair& shared_key(key_type type) {
    static const key_pair rsa = generate(key_type::rsa);
    static const key_pair ec = generate(key_type::ec);
    static const key_pair ed = generate(key_type::ed25519);
    return type == key_type::rsa ? rsa : type == key_type::ec ? ec : ed;
}

// The public JWK of `k` as JSON text, with `extra` members appended inside
// the object (e.g. R"(,"kid":"a")").
inline std::string jwk(key_type type, const key_pair& k, std::string_view extra = {}) {
    using ssehub::base64url::encode;
    std::string_view spki = k.spki;
    std::string_view body = detail::der_take(spki, 0x30);
    detail::der_take(body, 0x30);                              // AlgorithmIdentifier
    std::string_view bits = detail::der_take(body, 0x03);
    bits.remove_prefix(1);                                     // unused-bits byte
    std::string out;
    switch (type) {
    case key_type::rsa: {
        std::string_view seq = detail::der_take(bits, 0x30);
        std::string_view n = detail::der_take(seq, 0x02);
        const std::string_view e = detail::der_take(seq, 0x02);
        while (n.size() > 1 && n.front() == '\0') n.remove_prefix(1);
        out = R"({"kty":"RSA","n":")" + encode(n) + R"(","e":")" + encode(e) + "\"";
        break;
    }
    case key_type::ec:
    case key_type::ec_p384: {
        bits.remove_prefix(1);  // 0x04: uncompressed
        const std::size_t half = bits.size() / 2;
        out = std::string(R"({"kty":"EC","crv":")") + (type == key_type::ec ? "P-256" : "P-384") + R"(","x":")" +
              encode(bits.substr(0, half)) + R"(","y":")" + encode(bits.substr(half)) + "\"";
        break;
    }
    case key_type::ed25519: out = R"({"kty":"OKP","crv":"Ed25519","x":")" + encode(bits) + "\""; break;
    }
    out += extra;
    out += "}";
    return out;
}

}  // namespace test::jwt

#endif
