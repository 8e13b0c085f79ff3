// Test support for the admin routes: JSON answers, and event streams opened
// with a ticket that carries a user and a tenant (ssehubd --auth tickets
// --publisher-key pk). Shared by the node-local and the cluster-wide tests.
#pragma once

#include "daemon_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace daemon_test {

// The answer's JSON (null when it is not JSON: the checks on it then fail).
inline nlohmann::json body_json(const reply& r) { return nlohmann::json::parse(r.body, nullptr, false); }

// A stream opened with a ticket (issued with the publisher key "pk") carrying this user and tenant.
inline std::unique_ptr<subscriber> subscribe(unsigned short port, const std::string& topic, const std::string& user,
                                             const std::string& tenant) {
    const nlohmann::json want{{"topics", {topic}}, {"metadata", {{"sub", user}, {"tenant_id", tenant}}}};
    auto issued = post(port, "/tickets", want.dump(), "X-Publisher-Key: pk\r\n");
    REQUIRE(issued.status == 201);
    auto s = std::make_unique<subscriber>(
        port, "/events?ticket=" + nlohmann::json::parse(issued.body)["ticket"].get<std::string>());
    REQUIRE(s->connected());
    return s;
}

}  // namespace daemon_test
