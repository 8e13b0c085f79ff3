#include "payload.hpp"

#include <charconv>

namespace ssehub::bench {
namespace {

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    out.append(buf, p);
}

std::optional<std::uint64_t> field(std::string_view data, std::string_view key) noexcept {
    const auto at = data.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    const char* p = data.data() + at + key.size();
    const char* end = data.data() + data.size();
    while (p != end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
    std::uint64_t v = 0;
    const auto [q, ec] = std::from_chars(p, end, v);
    if (ec != std::errc{} || q == p) return std::nullopt;
    if (q != end && (*q == '.' || *q == 'e' || *q == 'E')) return std::nullopt;  // not an integer
    return v;
}

}  // namespace

void append_payload(std::string& out, std::uint64_t seq, std::uint64_t ts_ns, std::size_t size) {
    const std::size_t start = out.size();
    out += "{\"seq\":";
    append_uint(out, seq);
    out += ",\"ts\":";
    append_uint(out, ts_ns);
    constexpr std::string_view pad_key = ",\"pad\":\"";
    const std::size_t used = out.size() - start + pad_key.size() + 2;  // + closing quote and brace
    if (size > used) {
        out += pad_key;
        out.append(size - used, 'x');
        out += '"';
    }
    out += '}';
}

std::optional<payload_fields> parse_payload(std::string_view data) noexcept {
    const auto seq = field(data, "\"seq\":");
    if (!seq) return std::nullopt;
    const auto ts = field(data, "\"ts\":");
    if (!ts) return std::nullopt;
    return payload_fields{*seq, *ts};
}

std::optional<url> parse_url(std::string_view text) {
    constexpr std::string_view scheme = "http://";
    if (text.substr(0, scheme.size()) != scheme) return std::nullopt;
    text.remove_prefix(scheme.size());
    const auto slash = text.find('/');
    std::string_view authority = text.substr(0, slash);
    url u;
    u.target = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        u.host = std::string(authority.substr(1, close - 1));
        const auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = rest.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (u.host.empty()) return std::nullopt;
    if (!port.empty()) {
        unsigned v = 0;
        const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (ec != std::errc{} || p != port.data() + port.size() || v == 0 || v > 65535) return std::nullopt;
        u.port = static_cast<unsigned short>(v);
    }
    return u;
}

std::string expand(std::string_view tmpl, std::string_view topic, std::string_view payload) {
    std::string out;
    out.reserve(tmpl.size() + topic.size() + payload.size());
    while (!tmpl.empty()) {
        const auto brace = tmpl.find('{');
        out.append(tmpl.substr(0, brace));
        if (brace == std::string_view::npos) break;
        tmpl.remove_prefix(brace);
        if (tmpl.starts_with("{topic}")) {
            out.append(topic);
            tmpl.remove_prefix(7);
        } else if (tmpl.starts_with("{payload}")) {
            out.append(payload);
            tmpl.remove_prefix(9);
        } else {
            out += '{';
            tmpl.remove_prefix(1);
        }
    }
    return out;
}

}  // namespace ssehub::bench
