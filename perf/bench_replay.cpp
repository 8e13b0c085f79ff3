// Replay store, tickets, and the auth path (JWT verify, JSON parse).
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "alloc_counter.hpp"
#include "ssehub/json_value.hpp"
#include "ssehub/jwt.hpp"
#include "ssehub/replayer.hpp"
#include "ssehub/ticket_store.hpp"

namespace {

using namespace std::chrono_literals;

// Hub-style ids ("<ms>-<seq>", 16+ bytes: past the small-string buffer).
std::string event_id(std::uint64_t n) {
    std::string id = "1718000000000-";
    id += std::to_string(n);
    return id;
}

ssehub::stored_event make_event(std::uint64_t n, const ssehub::frame& bytes, std::string topic,
                                ssehub::metadata group = {}) {
    ssehub::stored_event ev;
    ev.id = event_id(n);
    ev.bytes = bytes;
    ev.topics.push_back(std::move(topic));
    ev.group = std::move(group);
    ev.at = std::chrono::steady_clock::now();
    return ev;
}

ssehub::frame sample_frame() {
    return std::make_shared<const std::string>(
        "id: 1718000000000-42\nevent: price\ndata: {\"symbol\":\"ACME\",\"price\":42.17}\n\n");
}

// A full 1000-event ring: each store also evicts the oldest event. Includes
// building the stored_event (id string, topics vector) as the hub would.
void BM_replayer_store(benchmark::State& state) {
    ssehub::memory_replayer r;  // max_events 1000
    const ssehub::frame f = sample_frame();
    std::uint64_t n = 0;
    for (; n < 1000; ++n) r.store(make_event(n, f, "prices.acme"));
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        r.store(make_event(n++, f, "prices.acme"));
    }
    allocs.report(state);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_replayer_store);

// Reconnect after missing 10 events: O(1) lookup of the id, then 10 matches.
void BM_replayer_replay_last10(benchmark::State& state) {
    ssehub::memory_replayer r;
    const ssehub::frame f = sample_frame();
    for (std::uint64_t n = 0; n < 1000; ++n) r.store(make_event(n, f, "prices.acme"));
    const std::string last_id = event_id(989);
    const std::vector<std::string> patterns = {"prices.*"};
    const ssehub::metadata meta = {{"tenant_id", "acme"}};
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        auto res = r.replay(last_id, patterns, meta, 100);
        benchmark::DoNotOptimize(res.events.data());
    }
    allocs.report(state);
}
BENCHMARK(BM_replayer_replay_last10);

// Worst case for one replay: resume from the oldest event, 999 candidates, 4
// tenants (a quarter match), capped at 100.
void BM_replayer_replay_scan_1000_tenants(benchmark::State& state) {
    ssehub::memory_replayer r;
    const ssehub::frame f = sample_frame();
    for (std::uint64_t n = 0; n < 1000; ++n) {
        static const char* const tenants[] = {"t0", "t1", "t2", "t3"};
        r.store(make_event(n, f, "orders.new", {{"tenant_id", tenants[n % 4]}}));
    }
    const std::string last_id = event_id(0);
    const std::vector<std::string> patterns = {"orders.>"};
    const ssehub::metadata meta = {{"tenant_id", "t1"}, {"sub", "u1"}};
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        auto res = r.replay(last_id, patterns, meta, 100);
        benchmark::DoNotOptimize(res.events.data());
    }
    allocs.report(state);
}
BENCHMARK(BM_replayer_replay_scan_1000_tenants);

// Unknown id → resync: one hash lookup.
void BM_replayer_replay_unknown(benchmark::State& state) {
    ssehub::memory_replayer r;
    const ssehub::frame f = sample_frame();
    for (std::uint64_t n = 0; n < 1000; ++n) r.store(make_event(n, f, "prices.acme"));
    const std::string last_id = "1717000000000-1";
    const std::vector<std::string> patterns = {"prices.*"};
    const ssehub::metadata meta;
    for (auto _ : state) {
        auto res = r.replay(last_id, patterns, meta, 100);
        benchmark::DoNotOptimize(res.known);
    }
}
BENCHMARK(BM_replayer_replay_unknown);

// put + take of one ticket in a store already holding 10k live tickets.
void BM_ticket_put_take(benchmark::State& state) {
    ssehub::memory_ticket_store s;
    for (int i = 0; i < 10000; ++i) (void)s.put(ssehub::issue_ticket_value(), "tenant_id=acme", 1h);
    std::vector<std::string> tickets;
    for (int i = 0; i < 1024; ++i) tickets.push_back(ssehub::issue_ticket_value());
    const std::string value = R"({"tenant_id":"acme","topics":["prices.*"]})";
    std::size_t i = 0;
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        const std::string& t = tickets[i++ & 1023];
        auto ec = s.put(t, value, 30s);
        auto v = s.take(t);
        benchmark::DoNotOptimize(ec);
        benchmark::DoNotOptimize(v);
    }
    allocs.report(state);
}
BENCHMARK(BM_ticket_put_take);

// The take alone on a miss (a reused or forged ticket).
void BM_ticket_take_miss(benchmark::State& state) {
    ssehub::memory_ticket_store s;
    for (int i = 0; i < 10000; ++i) (void)s.put(ssehub::issue_ticket_value(), "v", 1h);
    const std::string forged = ssehub::issue_ticket_value();
    for (auto _ : state) {
        auto v = s.take(forged);
        benchmark::DoNotOptimize(v);
    }
}
BENCHMARK(BM_ticket_take_miss);

// 32 bytes from getrandom(2) + base64url.
void BM_issue_ticket_value(benchmark::State& state) {
    for (auto _ : state) {
        auto t = ssehub::issue_ticket_value();
        benchmark::DoNotOptimize(t.data());
    }
}
BENCHMARK(BM_issue_ticket_value);

const std::string jwt_payload =
    R"({"sub":"user-42","tenant_id":"acme","exp":4000000000,"iat":1600000000,"iss":"https://auth.example",)"
    R"("aud":["ssehub","other"],"topics":["prices.*","news.>"]})";

void BM_json_parse_jwt_claims(benchmark::State& state) {
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        ssehub::json::value v;
        bool ok = ssehub::json::parse(jwt_payload, v);
        benchmark::DoNotOptimize(ok);
    }
    allocs.report(state);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * jwt_payload.size()));
}
BENCHMARK(BM_json_parse_jwt_claims);

void BM_jwt_verify_hs256(benchmark::State& state) {
    if (!ssehub::hs256_available) {
        state.SkipWithError("built without OpenSSL");
        return;
    }
    const std::string token =
        ssehub::sign_hs256(R"({"alg":"HS256","typ":"JWT"})", jwt_payload, "bench-secret-0123456789abcdef");
    ssehub::jwt_options o;
    o.secret = "bench-secret-0123456789abcdef";
    o.issuer = "https://auth.example";
    o.audience = "ssehub";
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        ssehub::auth_result r;
        auto ec = ssehub::verify_hs256(token, o, r);
        benchmark::DoNotOptimize(ec);
    }
    allocs.report(state);
}
BENCHMARK(BM_jwt_verify_hs256);

}  // namespace
