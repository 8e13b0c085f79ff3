// Test support: a throwaway self-signed certificate (EC P-256, SHA-256),
// made in-process with the OpenSSL API; PEM text, or files under a
// directory of the caller's.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

namespace test {

struct tls_identity {
    std::string cert_pem;
    std::string key_pem;
    long serial = 0;
    std::string common_name;

    // Writes cert.pem and key.pem under `dir` with `prefix`; returns the paths.
    std::pair<std::string, std::string> write(const std::string& dir, const std::string& prefix) const {
        const std::string cert = dir + "/" + prefix + "cert.pem", key = dir + "/" + prefix + "key.pem";
        std::ofstream(cert, std::ios::binary | std::ios::trunc) << cert_pem;
        std::ofstream(key, std::ios::binary | std::ios::trunc) << key_pem;
        return {cert, key};
    }
};

// `alt_names` (subjectAltName) is what a verifying client matches the host
// against: 127.0.0.1 and localhost unless told otherwise.
inline tls_identity make_self_signed(long serial, const std::string& common_name,
                                     const std::string& alt_names = "IP:127.0.0.1,DNS:localhost") {
    auto fail = [](const char* what) { throw std::runtime_error(std::string("test certificate: ") + what); };
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    if (!key) fail("EVP_EC_gen");
    std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), &X509_free);
    if (!x) fail("X509_new");
    X509_set_version(x.get(), 2);  // v3
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
    X509_set_pubkey(x.get(), key.get());
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                               -1, -1, 0);
    X509_set_issuer_name(x.get(), name);  // self-signed
    if (!alt_names.empty()) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, alt_names.c_str());
        if (!ext) fail("subjectAltName");
        X509_add_ext(x.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(x.get(), key.get(), EVP_sha256()) == 0) fail("X509_sign");

    auto pem = [&](auto write) {
        std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new(BIO_s_mem()), &BIO_free);
        if (!b || !write(b.get())) fail("PEM_write");
        char* data = nullptr;
        const long n = BIO_get_mem_data(b.get(), &data);
        return std::string(data, static_cast<std::size_t>(n));
    };
    tls_identity id;
    id.cert_pem = pem([&](BIO* b) { return PEM_write_bio_X509(b, x.get()) == 1; });
    id.key_pem = pem([&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
    });
    id.serial = serial;
    id.common_name = common_name;
    return id;
}

}  // namespace test
