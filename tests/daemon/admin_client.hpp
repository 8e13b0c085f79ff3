// Test support for the admin routes: JSON answers, and event streams opened
// with a ticket that carries a user and a tenant (ssehubd --auth tickets
// --publisher-key pk). Shared by the node-local and the cluster-wide tests.
#pragma once

#include "daemon_process.hpp"
#include "replies.hpp"  // body_json

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace daemon_test {

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

// The stream got `event: disconnect` with this reason, then EOF.
inline void check_ended(subscriber& s, const std::string& reason) {
    auto e = s.wait_for("disconnect");
    REQUIRE(e);
    CHECK(nlohmann::json::parse(e->data)["reason"] == reason);
    CHECK(s.c.wait_closed());
}

// Every entry of a presence list (`target` has a query already), read two
// per page with the `after` cursor; each page must say `total`.
inline std::vector<nlohmann::json> read_paged(unsigned short port, const std::string& target, const std::string& key,
                                              std::size_t total) {
    std::vector<nlohmann::json> out;
    std::string after;
    for (std::size_t pages = 0; pages <= total; ++pages) {
        auto page = body_json(get(port, target + "&limit=2" + (after.empty() ? "" : "&after=" + after), key));
        CHECK(page["total"] == total);
        for (const auto& e : page["entries"]) out.push_back(e);
        if (!page["next"].is_string()) break;
        CHECK(page["entries"].size() == 2);  // `next` only on a full page
        after = page["next"].get<std::string>();
    }
    return out;
}

}  // namespace daemon_test
