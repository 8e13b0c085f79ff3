// Test support for ssehubd --mercure: its flags with a publisher and a
// subscriber key, tokens in the released and the draft form, a form POST,
// and a subscriber that reads the `message` events one by one. Shared by the
// one-node tests (tests/daemon/test_mercure.cpp) and the two-node test on
// Redis (tests/redis/test_scale_out.cpp).
#pragma once

#include "daemon_process.hpp"

#include <ssehub/jwt.hpp>

#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace daemon_test {

inline const std::string pub_key = "publisher-secret-0123456789";
inline const std::string sub_key = "subscriber-secret-0123456789";
inline const std::string header_at = R"({"alg":"HS256","typ":"at+jwt"})";
inline const std::string header_jwt = R"({"alg":"HS256","typ":"JWT"})";

inline std::vector<std::string> mercure_args(bool anonymous = true) {
    std::vector<std::string> a{"--mercure", "--mercure-publisher-jwt-key=" + pub_key,
                               "--mercure-subscriber-jwt-key=" + sub_key, "--mercure-url=https://hub.test/.well-known/mercure",
                               "--no-demo"};
    if (anonymous) a.push_back("--mercure-anonymous");
    return a;
}

// Released form: {"mercure":{"publish":[..]}}.
inline std::string publisher_token(std::string_view selectors_json = R"(["*"])") {
    return ssehub::sign_hs256(header_jwt, R"({"mercure":{"publish":)" + std::string(selectors_json) + "}}", pub_key);
}
// Draft form: an RFC 9068 access token with authorization_details.
inline std::string subscriber_token(std::string_view match, std::string_view match_type = "exact") {
    return ssehub::sign_hs256(header_at,
                              R"({"sub":"u1","authorization_details":[{"type":"https://mercure.rocks/authorization-detail",)"
                              R"("actions":["subscribe"],"topics":[{"match":")" +
                                  std::string(match) + R"(","match_type":")" + std::string(match_type) + R"("}]}]})",
                              sub_key);
}

inline std::string url_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') out.push_back(static_cast<char>(c));
        else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

// POST /.well-known/mercure with form fields.
inline reply mercure_post(unsigned short port, const std::vector<std::pair<std::string, std::string>>& fields,
              const std::string& token = publisher_token(), std::string extra_headers = {}) {
    std::string body;
    for (const auto& [k, v] : fields) body += (body.empty() ? "" : "&") + url_encode(k) + "=" + url_encode(v);
    std::string headers = "Content-Type: application/x-www-form-urlencoded\r\n" + extra_headers;
    if (!token.empty()) headers += "Authorization: Bearer " + token + "\r\n";
    return post(port, "/.well-known/mercure", body, headers);
}

// The next `message` event after those already seen by this test.
struct mercure_subscriber {
    subscriber s;
    std::size_t seen = 0;
    mercure_subscriber(unsigned short port, const std::string& query, const std::string& headers = {})
        : s(port, "/.well-known/mercure?" + query, headers) {}
    std::optional<ssehub::parsed_event> next(std::chrono::milliseconds timeout = 10s) {
        std::optional<ssehub::parsed_event> found;
        s.c.read_until(
            [&] {
                for (; seen < s.c.events.size(); ++seen) {
                    if (s.c.events[seen].type == "message") {
                        found = s.c.events[seen++];
                        return true;
                    }
                }
                return false;
            },
            timeout);
        return found;
    }
    std::string next_id() {
        auto e = next();
        return e ? e->id : std::string("(none)");
    }
};


}  // namespace daemon_test
