// ssehubd --replay-db: the replay survives a restart of the daemon.
#include "daemon_process.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace daemon_test;
using json = nlohmann::json;

namespace {

using test::temp_dir;

// Publishes `data` on topic feed; returns the id the hub gave it.
std::string publish(unsigned short port, const std::string& data) {
    const auto r = post(port, "/publish", R"({"topics":["feed"],"data":")" + data + "\"}");
    REQUIRE(r.status == 202);
    return json::parse(r.body)["id"].get<std::string>();
}

// The data of the events after `connected`, in arrival order.
std::vector<std::string> data_of(const test::client& c) {
    std::vector<std::string> out;
    for (std::size_t i = 1; i < c.events.size(); ++i) out.push_back(c.events[i].data);
    return out;
}

}  // namespace

TEST_CASE("ssehubd --replay-db: a client reconnecting after a restart gets exactly what it missed",
          "[daemon][replay][sqlite]") {
    temp_dir dir;
    const std::string db = dir.file("replay.db");
    std::string last_seen;
    std::vector<std::string> before;
    {
        daemon_process d({"--replay-db", db});
        if (d.port() == 0 && d.log().find("built without SQLite3") != std::string::npos) {
            WARN("ssehubd was built without SQLite3: --replay-db is refused, as it should be");
            CHECK(d.wait_exit(10s) == 2);
            return;
        }
        REQUIRE(d.port() != 0);
        subscriber s(d.port(), "/events?topics=feed");
        REQUIRE(s.connected());
        publish(d.port(), "seen");
        REQUIRE(s.c.wait_events(2));
        last_seen = s.c.events[1].id;
        s.c.close();
        before.push_back(publish(d.port(), "missed 1"));
        before.push_back(publish(d.port(), "missed 2"));
        d.signal(SIGTERM);
        REQUIRE(d.wait_exit(30s) == 0);
    }
    daemon_process d({"--replay-db", db});  // the same file: what was stored before is replayed
    REQUIRE(d.port() != 0);
    test::client again;
    again.get(d.port(), "/events?topics=feed", "Last-Event-ID: " + last_seen + "\r\n");
    REQUIRE(again.wait_events(3));
    CHECK(again.events[0].type == "connected");
    CHECK(data_of(again) == std::vector<std::string>{"missed 1", "missed 2"});
    CHECK(again.events[1].id == before[0]);
    CHECK(again.events[2].id == before[1]);
    // Live events follow; ids keep sorting after the ones from before the restart.
    const auto after = publish(d.port(), "live");
    CHECK(after > before.back());
    REQUIRE(again.wait_events(4));
    CHECK(again.events[3].id == after);
    again.read_until([] { return false; }, 50ms);
    CHECK(data_of(again) == std::vector<std::string>{"missed 1", "missed 2", "live"});  // nothing twice

    // An id the file does not know: resync, as with the memory replayer.
    test::client unknown;
    unknown.get(d.port(), "/events?topics=feed", "Last-Event-ID: 00000000001-000000000001\r\n");
    REQUIRE(unknown.wait_events(2));
    CHECK(unknown.events[1].type == "resync");
}

TEST_CASE("ssehubd --replay-db: refused with --redis, or without a usable file", "[daemon][replay][sqlite]") {
    {
        daemon_process d({"--replay-db", "/tmp/x.db", "--redis", "redis://127.0.0.1:1"});
        CHECK(d.wait_exit(10s) == 2);
        const auto log = d.log();
        const bool refused = log.find("exclude each other") != std::string::npos ||
                             log.find("built without SQLite3") != std::string::npos;
        CHECK(refused);
    }
    {
        daemon_process d({"--replay-db", "/nonexistent-dir/for/sure/replay.db"});
        CHECK(d.wait_exit(10s).value_or(0) != 0);
    }
}
