// fuzz_ticket: memory_ticket_store driven by a small state machine (put,
// take, get, clock advance, size) with an injected clock, checked against a
// std::map model: a ticket is taken at most once, never after it expires,
// get reads without spending,
// put fails with ticket_store_full beyond max_tickets live tickets (expired
// ones purged first) and with invalid_argument for ttl <= 0, replacing a
// ticket keeps one entry; size() counts exactly what the model holds.
// Then the ticket value decoder (ticket_auth's default): ticket_value()
// round-trips, an arbitrary value never crashes the authenticator, and only
// the outcome's consume (what the hub runs on admission) spends a ticket.
// Input: byte 0 capacity, then ops; the tail after the first 0xFF is a ticket value.
#include "ssehub/auth.hpp"
#include "ssehub/error.hpp"
#include "ssehub/ticket_store.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

using clock_tp = std::chrono::steady_clock::time_point;

struct model_entry {
    std::string value;
    clock_tp expires;
};

ssehub::auth_outcome authenticate(const std::shared_ptr<ssehub::memory_ticket_store>& store, const std::string& ticket) {
    auto auth = ssehub::ticket_auth(ssehub::any_ticket_store(store));
    ssehub::http::request req;
    req.method = "GET";
    req.target = "/events?ticket=" + ticket;
    req.headers.push_back({"Host", "h"});
    asio::io_context io;
    std::optional<ssehub::auth_outcome> got;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { got = co_await auth(req); }, asio::detached);
    io.run();
    FUZZ_CHECK(got.has_value());
    return std::move(*got);
}

// What the hub does once it admits the connection: spend the ticket.
bool consume(const ssehub::auth_outcome& o) {
    FUZZ_CHECK(o.consume != nullptr);
    asio::io_context io;
    std::optional<bool> spent;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { spent = co_await o.consume(); }, asio::detached);
    io.run();
    FUZZ_CHECK(spent.has_value());
    return *spent;
}

void check_value(std::string_view value) {
    // Arbitrary value: decoded or refused with 401, never anything else.
    auto store = std::make_shared<ssehub::memory_ticket_store>();
    FUZZ_CHECK(!store->put("t1", std::string(value), std::chrono::seconds(60)));
    const auto o = authenticate(store, "t1");
    FUZZ_CHECK(o.status == 0 || o.status == 401);
    FUZZ_CHECK(store->size() == 1);  // authenticating reads; only an admitted stream spends
    if (o.status == 0) {
        FUZZ_CHECK(consume(o));
        FUZZ_CHECK(store->size() == 0);
        FUZZ_CHECK(authenticate(store, "t1").status == 401);  // single use
        FUZZ_CHECK(!consume(o));                              // and spent once
    } else {
        FUZZ_CHECK(!o.consume);
        FUZZ_CHECK(authenticate(store, "t1").status == 401);  // undecodable stays undecodable
    }

    // ticket_value round trip on printable text taken from the value.
    std::vector<std::string> topics;
    ssehub::metadata meta;
    std::string cur;
    for (const char ch : value) {
        const unsigned char c = static_cast<unsigned char>(ch);
        if (c == '|') { topics.push_back(cur); cur.clear(); }
        else if (c == '=') { meta[cur] = std::to_string(topics.size()); cur.clear(); }
        else cur += static_cast<char>(0x20 + c % 0x5f);
    }
    FUZZ_CHECK(!store->put("t2", ssehub::ticket_value(topics, meta), std::chrono::seconds(60)));
    const auto r = authenticate(store, "t2");
    FUZZ_CHECK(r.status == 0);
    FUZZ_CHECK(r.topics && *r.topics == topics);
    FUZZ_CHECK(r.metadata == meta);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::size_t cut = in.find('\xff');
    const std::string_view ops = in.substr(0, cut);
    if (ops.empty()) return 0;
    if (cut != std::string_view::npos) check_value(in.substr(cut + 1));

    clock_tp now{std::chrono::hours(1)};
    const std::size_t capacity = static_cast<unsigned char>(ops[0]) % 6;
    ssehub::memory_ticket_store store({.max_tickets = capacity, .clock = [&now] { return now; }});
    std::map<std::string, model_entry> model;
    const auto purge = [&] {
        for (auto it = model.begin(); it != model.end();)
            it = it->second.expires <= now ? model.erase(it) : std::next(it);
    };
    std::size_t counter = 0;
    for (std::size_t i = 1; i + 1 < ops.size(); i += 2) {
        const unsigned char op = ops[i], arg = ops[i + 1];
        const std::string key = "k" + std::to_string(op >> 4 & 7);
        switch (op % 4) {
            case 0: {  // put
                const std::chrono::milliseconds ttl(static_cast<int>(arg) - 16);
                const std::string value = "v" + std::to_string(counter++);
                const auto ec = store.put(key, value, ttl);
                if (ttl.count() <= 0) {
                    FUZZ_CHECK(ec == std::make_error_code(std::errc::invalid_argument));
                    break;
                }
                purge();
                if (model.count(key) == 0 && model.size() >= capacity) {
                    FUZZ_CHECK(ec == ssehub::make_error_code(ssehub::error::ticket_store_full));
                } else {
                    FUZZ_CHECK(!ec);
                    model[key] = {value, now + ttl};
                }
                break;
            }
            case 1: {  // take
                const auto got = store.take(key);
                const auto it = model.find(key);
                if (it == model.end() || it->second.expires <= now) {
                    FUZZ_CHECK(!got);
                } else {
                    FUZZ_CHECK(got && *got == it->second.value);
                }
                if (it != model.end()) model.erase(it);
                FUZZ_CHECK(!store.take(key));  // single use
                break;
            }
            case 2:  // time passes
                now += std::chrono::milliseconds(arg);
                break;
            default: {  // get: the value, left in place (an expired ticket is removed)
                const auto got = store.get(key);
                const auto it = model.find(key);
                if (it == model.end() || it->second.expires <= now) {
                    FUZZ_CHECK(!got);
                    if (it != model.end()) model.erase(it);
                } else {
                    FUZZ_CHECK(got && *got == it->second.value);
                }
                break;
            }
        }
        FUZZ_CHECK(store.size() == model.size());
    }
    return 0;
}
