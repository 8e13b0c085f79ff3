#include "ssehub/url_topic.hpp"

#include "ssehub/http.hpp"
#include "ssehub/topic.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

namespace ssehub {
namespace {

bool safe(unsigned char c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    static constexpr std::string_view extra = "-_~!$'()+,;=:@";
    return extra.find(static_cast<char>(c)) != std::string_view::npos;
}

void encode(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (safe(c)) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xF]);
        }
    }
}

bool reserved(std::string_view key) {
    return key == "lastEventId" || key == "lastEventID" || key == "token" || key == "ticket" || key == "topics";
}

}  // namespace

std::optional<std::string> url_topic(std::string_view target, std::size_t max_len) {
    const auto q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    std::string topic;
    std::string decoded;
    std::size_t pos = 0;
    while (pos <= path.size()) {
        const auto slash = path.find('/', pos);
        const std::string_view seg = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
        if (!seg.empty()) {
            if (!http::percent_decode(seg, decoded, false)) return std::nullopt;
            if (!topic.empty()) topic.push_back('.');
            encode(topic, decoded);
        }
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    auto pairs = http::parse_query(query);
    std::erase_if(pairs, [](const auto& kv) { return reserved(kv.first); });
    if (!pairs.empty()) {
        std::sort(pairs.begin(), pairs.end());
        if (!topic.empty()) topic.push_back('.');
        topic.push_back('?');
        bool first = true;
        for (const auto& [k, v] : pairs) {
            if (!first) topic.push_back('&');
            first = false;
            encode(topic, k);
            topic.push_back('=');
            encode(topic, v);
        }
    }
    if (!topic::is_valid_subject(topic, max_len)) return std::nullopt;
    return topic;
}

}  // namespace ssehub
