// Test support for ssehub::nats: a "node" (a hub on a real socket, bridged to
// NATS by interest; with JetStream also replaying from the stream), options
// on a test server, and reading a client's events up to a marker. Shared by
// the nats test files (one binary).
#pragma once

#include "nats_server.hpp"
#include "support/harness.hpp"

#include <ssehub/fan_out.hpp>
#include <ssehub/nats/nats.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#define SKIP_WITHOUT_NATS_SERVER()                                                          \
    if (!nats_test::available()) {                                                          \
        WARN("nats-server is not installed (Debian: apt-get install nats-server): skipped"); \
        return;                                                                             \
    }

namespace nats_test {

namespace sn = ssehub::nats;
using namespace std::chrono_literals;

inline sn::nats_options options_for(const nats_server& s, std::string prefix) {
    sn::nats_options o;
    o.url = s.url();
    o.prefix = std::move(prefix);  // each case its own subjects on the shared server
    o.reconnect_initial = 20ms;
    o.reconnect_max = 200ms;
    return o;
}

// The same with JetStream: a stream of its own (named after the prefix).
inline sn::nats_options jetstream_options_for(const nats_server& s, std::string prefix) {
    auto o = options_for(s, prefix);
    o.jetstream.enabled = true;
    o.jetstream.stream = std::move(prefix);
    return o;
}

// A hub bridged to NATS by interest (with JetStream: replaying from the stream).
struct node {
    explicit node(const sn::nats_options& o, std::size_t max_replay = 1000)
        : replayer(o.jetstream.enabled ? std::make_shared<sn::nats_jetstream_replayer>(o) : nullptr),
          srv(config(replayer, max_replay)),
          sub(o, srv.hub()) {
        if (replayer) replayer->follow(sub);
        bridge = ssehub::fan_out(srv.hub(), sub, sn::nats_fan_out_config());
    }
    ~node() { stop(); }
    // The node goes away (its clients' streams end).
    void stop() {
        bridge.stop();
        srv.stop();
    }
    const sn::nats_counters& nats() const { return sub.counters(); }
    // Waits until the server has confirmed `n` subscriptions (the fixed subjects count too).
    bool subscribed(std::size_t n) {
        const bool ok = test::poll_until([&] { return nats().subscriptions.load() == n; }, 20s);
        if (!ok)
            UNSCOPED_INFO("subscriptions " << nats().subscriptions.load() << " connected " << nats().connected.load()
                                           << " disconnects " << nats().disconnects.load() << " reconnects "
                                           << nats().reconnects.load() << " attempts " << nats().connect_attempts.load());
        return ok;
    }

    static ssehub::hub_config config(const std::shared_ptr<sn::nats_jetstream_replayer>& r, std::size_t max_replay) {
        ssehub::hub_config c;
        if (r) c.replayer = ssehub::any_replayer(r);
        c.max_replay = max_replay;
        return c;
    }

    std::shared_ptr<sn::nats_jetstream_replayer> replayer;
    test::server srv;
    sn::nats_subscriber sub;  // a copy of the running one: the counters are shared
    ssehub::fan_out_handle bridge;
};

// Data of the events after `connected`, up to and including `end`.
inline std::vector<std::string> data_until_end(test::client& c, const std::string& end = "end") {
    REQUIRE(c.read_until(
        [&] {
            for (const auto& e : c.events)
                if (e.data == end) return true;
            return false;
        },
        20s));
    std::vector<std::string> out;
    for (const auto& e : c.events) {
        if (e.type == "connected") continue;
        out.push_back(e.data);
        if (e.data == end) break;
    }
    return out;
}

inline bool publisher_up(const sn::nats_publisher& p) {
    return test::poll_until([&] { return p.counters().connected.load(); }, 20s);
}

}  // namespace nats_test
