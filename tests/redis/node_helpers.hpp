// Test support for ssehubd nodes on Redis (one Redis or a Redis Cluster):
// readiness, a counter from /metrics, a publish that must be accepted, and
// the data a subscriber received up to an end marker.
#pragma once

#include "daemon_process.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

namespace redis_test {

using namespace std::chrono_literals;
using daemon_test::get;
using daemon_test::post;
using daemon_test::subscriber;

inline bool ready(unsigned short port) { return get(port, "/readyz").status == 200; }

// A counter from /metrics (the first sample whose name+labels start with `prefix`).
inline std::uint64_t metric(unsigned short port, const std::string& prefix) {
    const auto body = get(port, "/metrics").body;
    const auto at = body.find("\n" + prefix);
    if (at == std::string::npos) return 0;
    const auto sp = body.find(' ', at + 1 + prefix.size());
    return std::strtoull(body.c_str() + sp + 1, nullptr, 10);
}

inline std::string publish(unsigned short port, const std::string& body) {
    const auto r = post(port, "/publish", body);
    REQUIRE(r.status == 202);
    std::smatch m;
    REQUIRE(std::regex_search(r.body, m, std::regex("\"id\":\"([0-9]+-[0-9]+)\"")));
    return m[1];
}

using daemon_test::data_until_end;  // (shared with the NATS daemon tests)

}  // namespace redis_test
