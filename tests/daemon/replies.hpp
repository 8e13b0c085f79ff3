// What several daemon test files share: the HS256 secret they start ssehubd
// with and the parsing of a JSON reply.
#pragma once

#include "daemon_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

namespace daemon_test {

// Given to ssehubd as SSEHUBD_JWT_SECRET.
inline const std::string jwt_secret = "a-long-test-secret-for-hs256-0123456789";

// A reply's body as JSON; the test fails (showing the reply) when it is not JSON.
inline nlohmann::json body_json(const reply& r) {
    INFO(r.head << r.body);
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    REQUIRE(!j.is_discarded());
    return j;
}

}  // namespace daemon_test
