// Soak: the real ssehubd under churn for SSEHUB_SOAK_SECONDS (default 60).
//  - stable clients stay for the whole run (some of them paused and resumed
//    again and again through POST /events/visibility);
//  - churning clients connect, read for a short while and leave, again and
//    again; half of the reconnections send Last-Event-ID (replay);
//  - a few slow clients read a little, rarely, through a tiny window;
//  - publishers post at a high rate on all three lanes (instant, batched,
//    coalesced); instant events carry a sequence number.
// Asserted: every stable client saw every instant event exactly once, in
// order; every churning client saw a gap-free, duplicate-free run of them on
// each connection, and a replaying one continued exactly after its
// Last-Event-ID; at the end connections (active, paused), queued frames,
// file descriptors return to their baseline and resident memory settles
// within the bound explained at the check. Figures go to stdout
// (`ssehubd_soak_tests -s`).
#include "hostile_support.hpp"

#include <catch2/catch.hpp>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <array>
#include <atomic>
#include <optional>
#include <thread>
#include <utility>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace daemon_test;
using namespace hostile;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;

namespace {

struct soak_config {
    std::chrono::seconds duration{60};
    int stable = 50;
    int pausable = 20;         // of the stable ones
    int churners = 400;        // concurrent churning clients
    int slow = 4;
    std::chrono::milliseconds churn_min{300}, churn_max{2500};
    int instant_per_second = 400;  // at most: the publishers wait for each answer
    int batched_per_second = 400;
    int coalesced_per_second = 400;
};

constexpr int instant_publishers = 4;  // each numbers its own events 0, 1, 2...

// Per-client bookkeeping of the instant sequences, one per publisher.
struct tracker {
    std::array<long, instant_publishers> first, last;
    long violations = 0;  // gaps, duplicates or reordering
    tracker() {
        first.fill(-1);
        last.fill(-1);
    }
    void see(int p, long n) {
        const auto i = static_cast<std::size_t>(p);
        if (first[i] < 0) first[i] = n;
        else if (n != last[i] + 1) ++violations;
        last[i] = n;
    }
};

struct totals {
    long connects = 0;
    long replays = 0;         // reconnections that sent Last-Event-ID
    long replay_gaps = 0;     // first instant after a replay was not last + 1
    long churn_violations = 0;
    long refused = 0;         // non-200 answers to /events
    long pauses = 0;
    // Written by the publishers' thread.
    std::array<std::atomic<long>, instant_publishers> published_instant{};  // per publisher
    long instant_total() const {
        long n = 0;
        for (const auto& k : published_instant) n += k.load();
        return n;
    }
    std::atomic<long> published_other{0};
    std::atomic<long> publish_errors{0};
};

struct shared_state {
    asio::io_context& io;
    unsigned short port;
    soak_config cfg;
    totals t;
    // The publishers run on their own thread and io_context, so that reading
    // hundreds of streams on this one does not slow publishing down.
    std::atomic<bool> stop_publishing{false};
    std::atomic<int> publishers_running{0};
    bool stop_churn = false;
    bool stop_stable = false;
    std::mt19937 rng{12345};
};

tcp::endpoint loopback(unsigned short port) { return {asio::ip::make_address("127.0.0.1"), port}; }

// An instant event's publisher and number ("p:n"), or nullopt for other events.
std::optional<std::pair<int, long>> instant_seq(const ssehub::parsed_event& e) {
    if (e.type != "i") return std::nullopt;
    const auto colon = e.data.find(':');
    return std::pair<int, long>(std::stoi(e.data.substr(0, colon)), std::stol(e.data.substr(colon + 1)));
}

// One event-stream connection: sends the request, checks the 200 head, feeds
// every event to on_event until the stream ends, `until` says stop, or the
// socket is closed from outside. Returns false if the answer was not 200.
template <class OnEvent, class Until>
asio::awaitable<bool> stream(shared_state& st, tcp::socket& sock, std::string target, std::string extra,
                             OnEvent on_event, Until until) {
    std::error_code ec;
    const auto ep = loopback(st.port);
    co_await sock.async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
    co_await asio::async_write(sock, asio::buffer(req), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    ++st.t.connects;
    std::string head;
    ssehub::sse_parser parser;
    std::array<char, 16384> buf;
    bool head_done = false;
    while (!until()) {
        const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        std::string_view chunk(buf.data(), n);
        if (!head_done) {
            head.append(chunk);
            const auto end = head.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            if (head.rfind("HTTP/1.1 200 ", 0) != 0) {
                ++st.t.refused;
                co_return false;
            }
            head_done = true;
            parser.feed(std::string_view(head).substr(end + 4), on_event);
            continue;
        }
        parser.feed(chunk, on_event);
    }
    co_return head_done;
}

// A POST on its own connection ("Connection: close": the daemon closes after
// answering); returns the status.
asio::awaitable<int> http_post(shared_state& st, std::string target, std::string body) {
    tcp::socket sock(co_await asio::this_coro::executor);
    std::error_code ec;
    const auto ep = loopback(st.port);
    co_await sock.async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return 0;
    const std::string req = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    co_await asio::async_write(sock, asio::buffer(req), asio::redirect_error(asio::use_awaitable, ec));
    std::string in;
    std::array<char, 4096> buf;
    while (!ec) {
        const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        in.append(buf.data(), n);
    }
    co_return in.size() >= 12 ? std::atoi(in.c_str() + 9) : 0;
}

const std::string publish_path = "/publish";
const std::string visibility_path = "/events/visibility";

asio::awaitable<void> publish_instant(shared_state& st, int p) {
    asio::steady_timer pace(co_await asio::this_coro::executor);
    const auto step = std::chrono::microseconds(1000000 * instant_publishers / st.cfg.instant_per_second);
    auto next = clock::now();
    std::atomic<long>& count = st.t.published_instant[static_cast<std::size_t>(p)];
    ++st.publishers_running;
    while (!st.stop_publishing) {
        const std::string body = R"({"topics":["soak.i"],"type":"i","data":")" + std::to_string(p) + ":" +
                                 std::to_string(count.load()) + "\"}";
        const int status = co_await http_post(st, publish_path, body);  // one at a time: hub order == our order
        if (status == 202) ++count;
        else ++st.t.publish_errors;
        next += step;
        pace.expires_at(next);
        co_await pace.async_wait(asio::use_awaitable);
    }
    --st.publishers_running;
}

asio::awaitable<void> publish_lanes(shared_state& st, int which) {
    asio::steady_timer pace(co_await asio::this_coro::executor);
    ++st.publishers_running;
    const auto step = std::chrono::microseconds(
        1000000 / (which == 0 ? st.cfg.batched_per_second : st.cfg.coalesced_per_second));
    auto next = clock::now();
    for (long n = 0; !st.stop_publishing; ++n) {
        const std::string body = which == 0
            ? R"({"topics":["soak.b"],"type":"b","priority":"batched","data":")" + std::to_string(n) + "\"}"
            : R"({"topics":["soak.c"],"type":"c","priority":"coalesced","coalesce_key":"k)" + std::to_string(n % 16) +
                  R"(","data":")" + std::to_string(n) + "\"}";
        const int status = co_await http_post(st, publish_path, body);
        if (status == 202) ++st.t.published_other;
        else ++st.t.publish_errors;
        next += step;
        pace.expires_at(next);
        co_await pace.async_wait(asio::use_awaitable);
    }
    --st.publishers_running;
}

struct stable_client {
    tracker seq;
    std::string connection_id;
    std::string owner;
    bool ended = false;
    bool ok = false;
    std::unique_ptr<tcp::socket> sock;
};

asio::awaitable<void> run_stable(shared_state& st, stable_client& c, int index) {
    c.owner = "soak-owner-" + std::string(16, static_cast<char>('a' + index % 26)) + std::to_string(index);
    c.sock = std::make_unique<tcp::socket>(st.io);
    auto on_event = [&c](const ssehub::parsed_event& e) {
        if (e.type == "connected") {
            const auto j = nlohmann::json::parse(e.data, nullptr, false);
            if (j.is_object() && j.contains("connection_id")) c.connection_id = j["connection_id"].get<std::string>();
        }
        if (const auto pn = instant_seq(e)) c.seq.see(pn->first, pn->second);
    };
    const std::string target = "/events?topics=soak.i,soak.b,soak.c&owner=" + c.owner;
    c.ok = co_await stream(st, *c.sock, target, std::string(), on_event, [&] { return st.stop_stable; });
    c.ended = true;
}

asio::awaitable<void> pauser(shared_state& st, std::vector<stable_client>& clients) {
    asio::steady_timer t(st.io);
    std::vector<bool> hidden(clients.size(), false);
    while (!st.stop_publishing) {
        t.expires_after(50ms);
        co_await t.async_wait(asio::use_awaitable);
        const auto i = static_cast<std::size_t>(st.rng() % static_cast<unsigned>(st.cfg.pausable));
        if (clients[i].connection_id.empty()) continue;
        hidden[i] = !hidden[i];
        const std::string body = nlohmann::json{{"connection_id", clients[i].connection_id}, {"hidden", bool(hidden[i])},
                                                {"owner", clients[i].owner}}.dump();
        if (co_await http_post(st, visibility_path, body) == 200) ++st.t.pauses;
    }
    for (std::size_t i = 0; i < hidden.size(); ++i) {  // resume everyone before the end
        if (hidden[i]) {
            const std::string body = nlohmann::json{{"connection_id", clients[i].connection_id}, {"hidden", false},
                                                    {"owner", clients[i].owner}}.dump();
            co_await http_post(st, visibility_path, body);
        }
    }
}

// Connects, reads for a random while, leaves; again until told to stop. Every
// other reconnection sends the last id it saw.
asio::awaitable<void> churner(shared_state& st, int index) {
    std::string last_id;
    tracker previous;  // what this client saw before its reconnection
    for (int round = 0; !st.stop_churn; ++round) {
        const bool replay = !last_id.empty() && (round + index) % 2 == 1;
        if (replay) ++st.t.replays;
        else previous.last.fill(-1);  // a fresh start: what came before it is not expected
        tracker seq;
        std::array<bool, instant_publishers> checked{};  // per publisher: first event after a replay checked
        std::string seen_id = last_id;
        const auto life = st.cfg.churn_min +
                          std::chrono::milliseconds(st.rng() % static_cast<unsigned>((st.cfg.churn_max - st.cfg.churn_min).count()));
        auto on_event = [&](const ssehub::parsed_event& e) {
            if (!e.id.empty()) seen_id = e.id;
            const auto pn = instant_seq(e);
            if (!pn) return;
            const auto [p, n] = *pn;
            const auto i = static_cast<std::size_t>(p);
            // After a replay, each publisher's run continues exactly where the
            // last connection left it (when that one saw any of its events).
            if (replay && !checked[i] && previous.last[i] >= 0 && n != previous.last[i] + 1) ++st.t.replay_gaps;
            checked[i] = true;
            seq.see(p, n);
        };
        tcp::socket sock(st.io);
        asio::steady_timer t(st.io, life);
        const std::string target = "/events?topics=soak.i,soak.b";
        const std::string extra = replay ? "Last-Event-ID: " + last_id + "\r\n" : std::string();
        co_await (stream(st, sock, target, extra, on_event, [] { return false; }) || t.async_wait(asio::use_awaitable));
        std::error_code ec;
        sock.close(ec);
        st.t.churn_violations += seq.violations;
        for (std::size_t i = 0; i < previous.last.size(); ++i)
            if (seq.last[i] >= 0) previous.last[i] = seq.last[i];
        last_id = seen_id;
    }
}

asio::awaitable<void> slow_client(shared_state& st) {
    while (!st.stop_churn) {
        tcp::socket sock(st.io);
        const int small = 4096;
        sock.open(tcp::v4());
        sock.set_option(asio::socket_base::receive_buffer_size(small));
        std::error_code ec;
        const auto ep = loopback(st.port);
    co_await sock.async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        const std::string req = "GET /events?topics=soak.i,soak.b,soak.c HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        co_await asio::async_write(sock, asio::buffer(req), asio::redirect_error(asio::use_awaitable, ec));
        asio::steady_timer t(st.io);
        std::array<char, 64> buf;
        while (!ec && !st.stop_churn) {  // 64 bytes a second: far slower than the stream
            t.expires_after(1s);
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        }
    }
}

}  // namespace

TEST_CASE("soak: churn, all lanes, pauses and replays, then everything returns to baseline", "[daemon][soak]") {
    soak_config cfg;
    if (const char* s = std::getenv("SSEHUB_SOAK_SECONDS")) cfg.duration = std::chrono::seconds(std::max(10, std::atoi(s)));
    REQUIRE(raise_nofile(8192) >= 4096);
    daemon_process d({"--max-connections=5000", "--send-queue=4096", "--flush-ms=200", "--flush-min-ms=50",
                      "--flush-max-ms=500", "--replay-size=5000", "--max-replay=5000", "--write-timeout-ms=3000",
                      "--slow-consumer-ms=3000", "--heartbeat-ms=1000", "--max-body=4096", "--no-demo",
                      "--log-level=warn"});
    const auto port = d.port();
    const pid_t pid = daemon_pid();
    REQUIRE(pid > 0);
    REQUIRE(get(port, "/healthz").status == 200);
    const int fd_start = fd_count(pid);
    const long rss_start = rss_kib(pid);

    asio::io_context io;
    shared_state st{io, port, cfg, {}};
    std::vector<stable_client> stable(static_cast<std::size_t>(cfg.stable));
    auto report = [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    };
    for (int i = 0; i < cfg.stable; ++i) asio::co_spawn(io, run_stable(st, stable[static_cast<std::size_t>(i)], i), report);
    // Publishing starts once every stable client holds its connection id.
    REQUIRE(test::poll_until(
        [&] {
            io.run_for(10ms);
            return std::all_of(stable.begin(), stable.end(), [](const auto& c) { return !c.connection_id.empty(); });
        },
        30s));

    asio::io_context pub_io;
    for (int p = 0; p < instant_publishers; ++p) asio::co_spawn(pub_io, publish_instant(st, p), report);
    asio::co_spawn(pub_io, publish_lanes(st, 0), report);
    asio::co_spawn(pub_io, publish_lanes(st, 1), report);
    std::thread publishing([&pub_io] { pub_io.run(); });
    struct joiner {  // stops and joins the publishers however this test ends
        shared_state& st;
        std::thread& t;
        ~joiner() {
            st.stop_publishing = true;
            if (t.joinable()) t.join();
        }
    } join_publishers{st, publishing};
    asio::co_spawn(io, pauser(st, stable), report);
    for (int i = 0; i < cfg.churners; ++i) asio::co_spawn(io, churner(st, i), report);
    for (int i = 0; i < cfg.slow; ++i) asio::co_spawn(io, slow_client(st), report);

    // Resident memory under load at mid-run and at the end of the load: a
    // leak per connection or per event would show as growth between them.
    const auto start = clock::now();
    io.run_until(start + cfg.duration / 2);
    const long rss_mid = rss_kib(pid);
    io.run_until(start + cfg.duration);
    const long rss_load_end = rss_kib(pid);
    const int fd_load = fd_count(pid);

    st.stop_publishing = true;
    publishing.join();  // their last requests answered: the counts are final
    st.stop_churn = true;
    // Every stable client gets every instant event (once the last publish returned).
    const bool all_delivered = test::poll_until(
        [&] {
            io.run_for(20ms);
            return std::all_of(stable.begin(), stable.end(), [&](const auto& c) {
                for (std::size_t i = 0; i < c.seq.last.size(); ++i)
                    if (c.seq.last[i] + 1 < st.t.published_instant[i].load()) return false;
                return true;
            });
        },
        60s);
    st.stop_stable = true;
    for (auto& c : stable) {
        std::error_code ec;
        c.sock->close(ec);
    }
    io.run_for(10s);  // churners and slow clients finish their current round
    CHECK(io.stopped());

    const auto& t = st.t;
    std::printf("soak: %lld s, %ld stream connections (%d stable, %d churning at a time, %d slow), %ld replays, "
                "%ld pause/resume requests\n",
                static_cast<long long>(cfg.duration.count()), t.connects, cfg.stable, cfg.churners, cfg.slow, t.replays,
                t.pauses);
    std::printf("soak: published %ld instant + %ld batched/coalesced events (%ld publish errors); fds %d at start, %d under "
                "load; RSS %ld KiB at start, %ld mid-run, %ld at the end of the load\n",
                t.instant_total(), t.published_other.load(), t.publish_errors.load(), fd_start, fd_load, rss_start, rss_mid,
                rss_load_end);
    CHECK(t.instant_total() > 0);
    CHECK(all_delivered);
    for (const auto& c : stable) {
        CHECK(c.ok);
        for (std::size_t i = 0; i < c.seq.last.size(); ++i) {
            CHECK(c.seq.first[i] == 0);
            CHECK(c.seq.last[i] + 1 == st.t.published_instant[i].load());
        }
        CHECK(c.seq.violations == 0);
    }
    CHECK(t.churn_violations == 0);
    INFO("replay gaps: " << t.replay_gaps << ", churn violations: " << t.churn_violations);
    CHECK(t.replay_gaps == 0);
    CHECK(t.refused == 0);
    CHECK(t.publish_errors == 0);
    CHECK(t.replays > 0);
    CHECK(t.pauses > 0);
    CHECK(t.connects >= 1000);  // thousands in the default run

    // Back to baseline.
    CHECK(test::poll_until(
        [&] {
            const auto j = stats(port);
            return stat_u64(j, "connections", "active") == 0 && stat_u64(j, "connections", "paused") == 0 &&
                   stat_u64(j, "queue", "frames") == 0;
        },
        30s));
    CHECK(test::poll_until([&] { return fd_count(pid) <= fd_start; }, 30s));
    const long rss_end = rss_kib(pid);
    const auto j = stats(port);
    std::printf("soak: after: fds %d, RSS %ld KiB; hub: %llu delivered, %llu replayed, %llu dropped (queue full), "
                "%llu slow-consumer disconnects, %llu connections in all\n",
                fd_count(pid), rss_end,
                static_cast<unsigned long long>(stat_u64(j, "events", "delivered")),
                static_cast<unsigned long long>(stat_u64(j, "events", "replayed")),
                static_cast<unsigned long long>(j["events"]["dropped"]["queue_full"].get<std::uint64_t>()),
                static_cast<unsigned long long>(stat_u64(j, "connections", "slow_consumer_disconnects")),
                static_cast<unsigned long long>(stat_u64(j, "connections", "total")));
    // Memory bound: the second half of the run, same load, may not grow RSS
    // by more than 10% + 16 MiB over the first half (allocator arenas and the
    // replay ring reach their size in the first half; a leak of even 1 KiB per
    // connection would add tens of MiB over the thousands of connections of
    // the second half), and with every client gone RSS is no higher than under load.
    CHECK(rss_load_end <= rss_mid + rss_mid / 10 + 16 * 1024);
    CHECK(rss_end <= std::max(rss_load_end, rss_mid) + 4 * 1024);
}
