// The load generator's sans-io parts: latency histogram, HTTP response
// reading, payloads and URL templates, /proc parsing, options, report.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <sstream>
#include <string>

#include "bench_options.hpp"
#include "http_response.hpp"
#include "latency_histogram.hpp"
#include "payload.hpp"
#include "proc_stats.hpp"
#include "report.hpp"

using namespace ssehub::bench;

TEST_CASE("latency_histogram: buckets tile the range, at most 1.6% wide", "[loadgen]") {
    using h = latency_histogram;
    for (std::size_t i = 0; i + 1 < h::bucket_count; ++i) {
        REQUIRE(h::lower_bound(i) <= h::upper_bound(i));
        REQUIRE(h::upper_bound(i) + 1 == h::lower_bound(i + 1));
        REQUIRE(h::index_of(h::lower_bound(i)) == i);
        REQUIRE(h::index_of(h::upper_bound(i)) == i);
        const double width = static_cast<double>(h::upper_bound(i) - h::lower_bound(i) + 1);
        if (i < h::linear) REQUIRE(width == 1);  // exact below 128
        else REQUIRE(width / static_cast<double>(h::lower_bound(i)) <= 1.0 / 64 + 1e-12);
    }
    CHECK(h::index_of(0) == 0);
    CHECK(h::index_of(127) == 127);
    CHECK(h::index_of(~0ull) == h::bucket_count - 1);
}

TEST_CASE("latency_histogram: quantiles, max and interval differences", "[loadgen]") {
    latency_histogram hist;
    latency_histogram::snapshot empty;
    hist.add_to(empty);
    CHECK(empty.total() == 0);
    CHECK(empty.quantile(0.99) == 0);
    CHECK(empty.max() == 0);

    for (std::uint64_t v = 1; v <= 10000; ++v) hist.record(v);
    latency_histogram::snapshot a;
    hist.add_to(a);
    CHECK(a.total() == 10000);
    // Upper bound of the bucket holding the true quantile: never below, at most 1/64 above.
    CHECK(a.quantile(0.5) >= 5000);
    CHECK(a.quantile(0.5) <= 5000 + 5000 / 64);
    CHECK(a.quantile(0.99) >= 9900);
    CHECK(a.quantile(0.99) <= 9900 + 9900 / 64);
    CHECK(a.quantile(1.0) >= 10000);
    CHECK(a.max() >= 10000);
    CHECK(a.max() <= 10000 + 10000 / 64);
    CHECK(a.quantile(0.0001) == 1);

    for (int i = 0; i < 100; ++i) hist.record(1'000'000);
    latency_histogram::snapshot b;
    hist.add_to(b);
    b -= a;  // only what was recorded in between
    CHECK(b.total() == 100);
    CHECK(b.quantile(0.5) >= 1'000'000);
    CHECK(b.quantile(0.5) <= 1'000'000 + 1'000'000 / 64);
    b += a;
    CHECK(b.total() == 10100);
}

TEST_CASE("parse_response_head: status, framing, keep-alive", "[loadgen]") {
    response_head r;
    const std::string ok = "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\ncontent-length: 12\r\n\r\n{\"id\":\"x\"}..";
    REQUIRE(parse_response_head(ok, r) == ok.size() - 12);
    CHECK(r.status == 202);
    CHECK(r.keep_alive);
    CHECK_FALSE(r.chunked);
    REQUIRE(r.content_length);
    CHECK(*r.content_length == 12);

    REQUIRE(parse_response_head("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n", r) > 0);
    CHECK_FALSE(r.keep_alive);
    REQUIRE(parse_response_head("HTTP/1.0 200 OK\r\n\r\n", r) > 0);
    CHECK_FALSE(r.keep_alive);
    REQUIRE(parse_response_head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", r) > 0);
    CHECK(r.keep_alive);
    REQUIRE(parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n", r) > 0);
    CHECK(r.chunked);
    CHECK_FALSE(r.content_length);
    REQUIRE(parse_response_head("HTTP/1.1 503\r\nRetry-After: 3\r\n\r\n", r) > 0);
    CHECK(r.status == 503);

    // Incomplete: wait for more; too long or malformed: npos.
    CHECK(parse_response_head("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n", r) == 0);
    CHECK(parse_response_head(std::string(100, 'a'), r, 50) == std::string_view::npos);
    CHECK(parse_response_head("HTTP/1.1 200 OK\r\nX: " + std::string(100, 'a') + "\r\n\r\n", r, 50) ==
          std::string_view::npos);
    CHECK(parse_response_head("HTTP/2.0 200 OK\r\n\r\n", r) == std::string_view::npos);
    CHECK(parse_response_head("HTTP/1.1 2x0 OK\r\n\r\n", r) == std::string_view::npos);
    CHECK(parse_response_head("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", r) == std::string_view::npos);
    CHECK(parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", r) ==
          std::string_view::npos);
}

TEST_CASE("chunked_decoder: same data whole and byte by byte; extensions and trailers skipped", "[loadgen]") {
    const std::string body = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n";
    std::string whole;
    chunked_decoder a;
    a.feed(body, [&](std::string_view d) { whole.append(d); });
    CHECK(whole == "helloabcdefghijklmnopqrstuvwxyz");
    CHECK(a.done());
    CHECK_FALSE(a.failed());

    std::string split;
    chunked_decoder b;
    for (char c : body) b.feed(std::string_view(&c, 1), [&](std::string_view d) { split.append(d); });
    CHECK(split == whole);
    CHECK(b.done());

    chunked_decoder open_stream;  // an event stream never sends the last chunk
    std::string got;
    open_stream.feed("3\r\nabc\r\n", [&](std::string_view d) { got.append(d); });
    CHECK(got == "abc");
    CHECK_FALSE(open_stream.done());
    CHECK_FALSE(open_stream.failed());

    for (const char* bad : {"x\r\n", "5\r\nhelloX", "5\n", "\r\n", "FFFFFFFFFFFFFFFFFF\r\n"}) {
        chunked_decoder d(1u << 20);
        d.feed(bad, [](std::string_view) {});
        CHECK(d.failed());
    }
}

TEST_CASE("payload: sequence and timestamp round trip, padded to size, any member order", "[loadgen]") {
    std::string s;
    append_payload(s, 42, 123456789012345ull, 100);
    CHECK(s.size() == 100);
    auto p = parse_payload(s);
    REQUIRE(p);
    CHECK(p->seq == 42);
    CHECK(p->ts_ns == 123456789012345ull);

    std::string small;
    append_payload(small, 1, 2, 0);  // too small to pad: the bare object
    CHECK(small == R"({"seq":1,"ts":2})");

    // Servers may re-serialize the object (nlohmann::json sorts members).
    p = parse_payload(R"({"pad":"xx","seq":7,"ts":99})");
    REQUIRE(p);
    CHECK(p->seq == 7);
    CHECK(p->ts_ns == 99);
    p = parse_payload(R"({"seq": 8, "ts": 100})");
    REQUIRE(p);
    CHECK(p->seq == 8);

    CHECK_FALSE(parse_payload(R"({"connection_id":"c1","topics":["a"]})"));
    CHECK_FALSE(parse_payload(R"({"seq":1})"));
    CHECK_FALSE(parse_payload(R"({"seq":1.5,"ts":2})"));
    CHECK_FALSE(parse_payload(R"({"seq":-1,"ts":2})"));
}

TEST_CASE("parse_url and expand", "[loadgen]") {
    auto u = parse_url("http://127.0.0.1:8080/events?topics={topic}");
    REQUIRE(u);
    CHECK(u->host == "127.0.0.1");
    CHECK(u->port == 8080);
    CHECK(u->target == "/events?topics={topic}");
    u = parse_url("http://localhost");
    REQUIRE(u);
    CHECK(u->port == 80);
    CHECK(u->target == "/");
    u = parse_url("http://[::1]:9/x");
    REQUIRE(u);
    CHECK(u->host == "::1");
    CHECK(u->port == 9);
    CHECK_FALSE(parse_url("https://x/"));
    CHECK_FALSE(parse_url("http://:80/"));
    CHECK_FALSE(parse_url("http://h:0/"));
    CHECK_FALSE(parse_url("http://h:70000/"));
    CHECK_FALSE(parse_url("http://[::1/"));

    CHECK(expand(R"({"topics":["{topic}"],"data":{payload}})", "t1", R"({"seq":1})") ==
          R"({"topics":["t1"],"data":{"seq":1}})");
    CHECK(expand("/pub/{topic}?a={b}", "x") == "/pub/x?a={b}");
}

TEST_CASE("proc_stats: /proc/PID/stat and status fields", "[loadgen]") {
    // comm may hold spaces and parentheses.
    const std::string stat = "1234 (a b) c)) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 1 0 100 1000 50";
    const auto cpu = parse_stat_cpu(stat, 100);
    REQUIRE(cpu);
    CHECK(*cpu == Approx(4.0));
    CHECK_FALSE(parse_stat_cpu("1234 (x) S 1 2", 100));
    CHECK_FALSE(parse_stat_cpu("no parens", 100));

    const auto rss = parse_status_rss("Name:\tx\nVmPeak:\t  9 kB\nVmRSS:\t    2048 kB\nThreads: 1\n");
    REQUIRE(rss);
    CHECK(*rss == 2048 * 1024);
    CHECK_FALSE(parse_status_rss("Name: x\n"));

    const auto self = sample_process(::getpid());
    REQUIRE(self);
    CHECK(self->rss_bytes > 0);
    CHECK(self_cpu_s() >= 0);
}

TEST_CASE("bench_options: flags, scenario defaults, errors", "[loadgen]") {
    auto parse = [](std::vector<std::string> args, bench_options& o) {
        std::vector<char*> argv{const_cast<char*>("ssehub_bench")};
        for (auto& a : args) argv.push_back(a.data());
        return parse_options(static_cast<int>(argv.size()), argv.data(), o);
    };
    bench_options o;
    REQUIRE_FALSE(parse({"--scenario", "fanout", "--subs=10000", "--server", "http://127.0.0.1:9/"}, o));
    REQUIRE_FALSE(apply_scenario(o));
    CHECK(*o.subs == 10000);
    CHECK(*o.topics == 1);
    CHECK(o.rates == std::vector<std::string>{"10", "30", "100", "max"});
    CHECK(o.sub_url == "http://127.0.0.1:9/events?topics={topic}");
    CHECK(o.pub_url == "http://127.0.0.1:9/publish");

    bench_options t;
    REQUIRE_FALSE(parse({"--scenario", "topics"}, t));
    REQUIRE_FALSE(apply_scenario(t));
    CHECK(*t.subs == 10000);
    CHECK(*t.topics == 1000);
    CHECK(t.rates == std::vector<std::string>{"3000"});

    bench_options bad;
    CHECK(parse({"--rates", "10,fast"}, bad));
    CHECK(parse({"--subs", "0"}, bad));
    CHECK(parse({"--nope", "1"}, bad));
    CHECK(parse({"--duration"}, bad));
    bench_options custom;
    REQUIRE_FALSE(parse({"--scenario", "custom"}, custom));
    CHECK(apply_scenario(custom));
    bench_options unknown;
    REQUIRE_FALSE(parse({"--scenario", "nope"}, unknown));
    CHECK(apply_scenario(unknown));
}

TEST_CASE("report: result lines read back, other lines skipped; tables print", "[loadgen]") {
    std::istringstream in(
        "{\"type\":\"progress\",\"t_s\":1}\n"
        "not json\n"
        "{\"type\":\"result\",\"scenario\":\"idle\",\"subs\":1000,\"bytes_per_conn\":2900.4}\n"
        "{\"type\":\"result\",\"scenario\":\"fanout\",\"subs\":1000,\"rate\":\"max\",\"p99_ms\":1.234}\n");
    const auto rows = read_results(in);
    REQUIRE(rows.size() == 2);
    CHECK(format_number(rows[0].find("bytes_per_conn"), 0) == "2900");
    CHECK(format_number(rows[1].find("p99_ms"), 2) == "1.23");
    CHECK(format_number(rows[1].find("missing"), 2) == "-");

    char* buf = nullptr;
    std::size_t len = 0;
    std::FILE* mem = ::open_memstream(&buf, &len);
    print_tables(mem, rows);
    std::fclose(mem);
    const std::string text(buf, len);
    std::free(buf);
    CHECK(text.find(" 2900 |") != std::string::npos);
    CHECK(text.find("max") != std::string::npos);
    CHECK(text.find("1.23") != std::string::npos);
}
