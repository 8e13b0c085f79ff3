#include "ssehub/base64.hpp"

#include <array>
#include <cstdint>

namespace ssehub::base64url {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> decode_table = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return t;
}();

}  // namespace

void encode(std::string_view bytes, std::string& out) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    const std::size_t base = out.size();
    out.resize(base + encoded_size(n));
    char* o = out.data() + base;
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        const std::uint32_t v = std::uint32_t{p[i]} << 16;
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
    }
}

bool decode(std::string_view text, std::string& out) {
    const std::size_t n = text.size();
    out.clear();
    if (n % 4 == 1) return false;
    out.resize(n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1));
    char* o = out.data();
    const auto sextet = [&text](std::size_t i) { return decode_table[static_cast<unsigned char>(text[i])]; };
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const int a = sextet(i), b = sextet(i + 1), c = sextet(i + 2), d = sextet(i + 3);
        if ((a | b | c | d) < 0) return false;
        const auto v = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6) | d);
        *o++ = static_cast<char>(v >> 16);
        *o++ = static_cast<char>(v >> 8);
        *o++ = static_cast<char>(v);
    }
    if (n - i == 2) {
        const int a = sextet(i), b = sextet(i + 1);
        if ((a | b) < 0 || (b & 0x0F) != 0) return false;  // 4 unused bits must be zero
        *o++ = static_cast<char>((a << 2) | (b >> 4));
    } else if (n - i == 3) {
        const int a = sextet(i), b = sextet(i + 1), c = sextet(i + 2);
        if ((a | b | c) < 0 || (c & 0x03) != 0) return false;  // 2 unused bits must be zero
        const auto v = static_cast<std::uint32_t>((a << 18) | (b << 12) | (c << 6));
        *o++ = static_cast<char>(v >> 16);
        *o++ = static_cast<char>(v >> 8);
    }
    return true;
}

}  // namespace ssehub::base64url
