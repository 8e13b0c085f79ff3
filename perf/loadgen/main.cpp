// ssehub_bench: opens N SSE subscriber connections, publishes at target rates,
// and reports deliveries/s, latency, lost events and the server's CPU and RSS.
// See perf/run_bench.sh and the README's "Load tests" section.
#include <sys/resource.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "bench_options.hpp"
#include "load_engine.hpp"
#include "proc_stats.hpp"
#include "report.hpp"
#include "ssehub/json_value.hpp"

namespace {

using namespace ssehub::bench;
namespace json = ssehub::json;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

void raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

class output {
public:
    explicit output(const bench_options& o) : opts_(o) {
        if (o.json_path == "-") {
            human_ = stderr;
            json_ = stdout;
        } else if (!o.json_path.empty()) {
            json_ = std::fopen(o.json_path.c_str(), "a");
            if (!json_) std::fprintf(stderr, "ssehub_bench: cannot open %s for JSON lines\n", o.json_path.c_str());
        }
    }
    ~output() {
        if (json_ && json_ != stdout) std::fclose(json_);
    }
    output(const output&) = delete;
    output& operator=(const output&) = delete;

    std::FILE* human() const { return human_; }

    void line(json::object obj) {
        if (!json_) return;
        if (!opts_.label.empty()) obj.emplace_back("label", opts_.label);
        std::string s = json::serialize(json::value(std::move(obj)));
        s += '\n';
        std::fputs(s.c_str(), json_);
        std::fflush(json_);
    }

private:
    const bench_options& opts_;
    std::FILE* human_ = stdout;
    std::FILE* json_ = nullptr;
};

struct server_probe {
    pid_t pid = 0;
    std::optional<process_sample> sample() const { return pid ? sample_process(pid) : std::nullopt; }
};

double mib(long long bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// Connects every subscriber; prints progress each second. Returns the seconds it took.
double connect_phase(load_engine& eng, const bench_options& o, output& out, const server_probe& srv) {
    const auto t0 = clock_type::now();
    eng.connect_all();
    auto next_print = t0 + std::chrono::seconds(1);
    for (;;) {
        const auto s = eng.sample();
        const bool done = s.connected + s.failed >= *o.subs;
        const bool timeout = seconds_since(t0) > o.connect_timeout_s;
        if (done || timeout || clock_type::now() >= next_print) {
            const auto ps = srv.sample();
            std::fprintf(out.human(), "[%s] connecting %6.1fs: %" PRIu64 "/%zu connected, %" PRIu64 " failed%s\n",
                         o.scenario.c_str(), seconds_since(t0), s.connected, *o.subs, s.failed,
                         ps ? (", server RSS " + std::to_string(static_cast<long long>(mib(ps->rss_bytes))) + " MiB").c_str() : "");
            std::fflush(out.human());
            next_print += std::chrono::seconds(1);
        }
        if (done) break;
        if (timeout) {
            std::fprintf(out.human(), "[%s] connect timeout after %.0f s\n", o.scenario.c_str(), o.connect_timeout_s);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return seconds_since(t0);
}

void idle_run(load_engine& eng, const bench_options& o, output& out, const server_probe& srv,
              std::vector<json::value>& rows) {
    const auto before = srv.sample();
    const double cpu0 = self_cpu_s();
    const double connect_s = connect_phase(eng, o, out, srv);
    std::this_thread::sleep_for(std::chrono::duration<double>(o.settle_s));
    const auto after = srv.sample();
    const auto s = eng.sample();
    json::object row{{"type", "result"},
                     {"scenario", "idle"},
                     {"subs", static_cast<std::uint64_t>(*o.subs)},
                     {"connected", s.connected},
                     {"failed", s.failed},
                     {"disconnects", s.disconnects},
                     {"connect_s", connect_s},
                     {"bench_cpu_s", self_cpu_s() - cpu0}};
    if (before && after) {
        row.emplace_back("rss_before_mib", mib(before->rss_bytes));
        row.emplace_back("rss_after_mib", mib(after->rss_bytes));
        if (s.connected)
            row.emplace_back("bytes_per_conn",
                             static_cast<double>(after->rss_bytes - before->rss_bytes) / static_cast<double>(s.connected));
        row.emplace_back("server_cpu_s", after->cpu_s - before->cpu_s);
    }
    out.line(row);
    rows.push_back(json::value(std::move(row)));
}


json::value number_or_null(std::optional<double> v) { return v ? json::value(*v) : json::value(); }

// One publishing step at `rate` (0 = max): publish for the duration, wait for
// late events, report.
void publish_step(load_engine& eng, const bench_options& o, const std::string& rate_text, output& out,
                  const server_probe& srv, std::vector<json::value>& rows) {
    const double rate = rate_text == "max" ? 0.0 : std::stod(rate_text);
    const auto counts0 = eng.per_subscriber_counts();
    const auto s0 = eng.sample();
    const auto p0 = srv.sample();
    const double cpu0 = self_cpu_s();
    const auto t0 = clock_type::now();
    eng.start_publishing(rate, std::chrono::milliseconds(static_cast<long long>(o.duration_s * 1000)), o.window);

    auto prev = s0;
    auto prev_p = p0;
    double prev_cpu = cpu0;
    auto prev_t = t0;
    auto next_print = t0 + std::chrono::seconds(1);
    auto last_progress = t0;
    std::uint64_t last_delivered = s0.delivered;
    const std::string tag = o.scenario + " " + std::to_string(*o.subs) + "x" + std::to_string(*o.topics) + " @" + rate_text;
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const auto now = clock_type::now();
        const auto s = eng.sample();
        if (s.delivered != last_delivered) {
            last_delivered = s.delivered;
            last_progress = now;
        }
        const bool publishing = eng.publishing();
        const std::uint64_t owed = s.expected - s0.expected;
        const std::uint64_t got = s.delivered - s0.delivered;
        const bool complete = !publishing && got >= owed;
        const bool stalled = !publishing && std::chrono::duration<double>(now - last_progress).count() > o.drain_s;
        if (now >= next_print) {
            const double dt = std::chrono::duration<double>(now - prev_t).count();
            auto lat = s.latency_us;
            lat -= prev.latency_us;
            const auto p = srv.sample();
            const double self = self_cpu_s();
            const double srv_pct = p && prev_p ? 100.0 * (p->cpu_s - prev_p->cpu_s) / dt : -1;
            std::fprintf(out.human(),
                         "[%s] %5.1fs sent %6.0f/s deliv %9.0f/s p50 %7.2f ms p99 %7.2f ms behind %8" PRIu64
                         " disc %" PRIu64 " server %3.0f%% %5.0f MiB bench %3.0f%%\n",
                         tag.c_str(), std::chrono::duration<double>(now - t0).count(),
                         static_cast<double>(s.published - prev.published) / dt,
                         static_cast<double>(s.delivered - prev.delivered) / dt,
                         static_cast<double>(lat.quantile(0.5)) / 1000.0, static_cast<double>(lat.quantile(0.99)) / 1000.0,
                         owed > got ? owed - got : 0, s.disconnects - s0.disconnects, srv_pct,
                         p ? mib(p->rss_bytes) : 0.0, 100.0 * (self - prev_cpu) / dt);
            std::fflush(out.human());
            out.line({{"type", "progress"},
                      {"scenario", o.scenario},
                      {"rate", rate_text},
                      {"t_s", std::chrono::duration<double>(now - t0).count()},
                      {"sent_per_s", static_cast<double>(s.published - prev.published) / dt},
                      {"deliveries_per_s", static_cast<double>(s.delivered - prev.delivered) / dt},
                      {"p50_ms", static_cast<double>(lat.quantile(0.5)) / 1000.0},
                      {"p99_ms", static_cast<double>(lat.quantile(0.99)) / 1000.0},
                      {"behind", owed > got ? owed - got : 0},
                      {"server_cpu_pct", srv_pct >= 0 ? json::value(srv_pct) : json::value()},
                      {"bench_cpu_pct", 100.0 * (self - prev_cpu) / dt}});
            prev = s;
            prev_p = p;
            prev_cpu = self;
            prev_t = now;
            next_print += std::chrono::seconds(1);
        }
        if (complete || stalled) break;
    }
    // Deliveries/s over the time it took to deliver what was published (the
    // step plus the tail of late events), not over the idle drain wait.
    const auto t_end = std::max(last_progress, t0 + std::chrono::milliseconds(static_cast<long long>(o.duration_s * 1000)));
    const double wall = std::chrono::duration<double>(t_end - t0).count();
    const auto s1 = eng.sample();
    const auto p1 = srv.sample();
    const double cpu1 = self_cpu_s();
    const double wall_all = seconds_since(t0);
    const auto counts1 = eng.per_subscriber_counts();
    auto lat = s1.latency_us;
    lat -= s0.latency_us;
    const std::uint64_t delivered = s1.delivered - s0.delivered;
    const std::uint64_t lost = load_engine::lost_between(counts0, counts1, eng.topic_of());

    json::object row{{"type", "result"},
                     {"scenario", o.scenario},
                     {"subs", static_cast<std::uint64_t>(*o.subs)},
                     {"topics", static_cast<std::uint64_t>(*o.topics)},
                     {"rate", rate_text},
                     {"duration_s", o.duration_s},
                     {"wall_s", wall},
                     {"published", s1.published - s0.published},
                     {"accepted", s1.accepted - s0.accepted},
                     {"rejected", s1.rejected - s0.rejected},
                     {"publish_errors", s1.publish_errors - s0.publish_errors},
                     {"publish_rate", static_cast<double>(s1.accepted - s0.accepted) / o.duration_s},
                     {"expected", s1.expected - s0.expected},
                     {"delivered", delivered},
                     {"deliveries_per_s", static_cast<double>(delivered) / wall},
                     {"lost", lost},
                     {"reordered", s1.reordered - s0.reordered},
                     {"seq_gaps", s1.seq_gaps - s0.seq_gaps},
                     {"other_events", s1.other_events - s0.other_events},
                     {"disconnects", s1.disconnects - s0.disconnects},
                     {"p50_ms", static_cast<double>(lat.quantile(0.5)) / 1000.0},
                     {"p99_ms", static_cast<double>(lat.quantile(0.99)) / 1000.0},
                     {"p999_ms", static_cast<double>(lat.quantile(0.999)) / 1000.0},
                     {"max_ms", static_cast<double>(lat.max()) / 1000.0},
                     {"bench_cpu_s", cpu1 - cpu0},
                     {"bench_cpu_pct", 100.0 * (cpu1 - cpu0) / wall_all}};
    if (p0 && p1) {
        const double cpu = p1->cpu_s - p0->cpu_s;
        row.emplace_back("server_cpu_s", cpu);
        row.emplace_back("server_cpu_pct", 100.0 * cpu / wall_all);
        row.emplace_back("server_ms_per_1k", delivered ? number_or_null(1e6 * cpu / static_cast<double>(delivered)) : json::value());
        row.emplace_back("server_rss_mib", mib(p1->rss_bytes));
    }
    out.line(row);
    rows.push_back(json::value(std::move(row)));
}

int run(bench_options& o) {
    output out(o);
    std::vector<json::value> rows;
    const auto sub = parse_url(o.sub_url);
    const auto pub = parse_url(o.pub_url);
    if (!sub || !pub) {
        std::fprintf(stderr, "ssehub_bench: URLs must look like http://HOST:PORT/PATH\n");
        return 2;
    }
    engine_config cfg;
    cfg.sub_url = *sub;
    cfg.pub_url = *pub;
    cfg.pub_body = o.pub_body;
    cfg.pub_headers = o.pub_headers;
    cfg.topic_prefix = o.topic_prefix;
    cfg.subscribers = *o.subs;
    cfg.topics = *o.topics;
    cfg.threads = o.threads;
    cfg.publishers = o.publishers;
    cfg.payload_bytes = o.payload_bytes;
    cfg.connect_concurrency = o.connect_concurrency;
    cfg.source_addrs = o.source_addrs;
    server_probe srv{o.server_pid};
    if (o.server_pid && !srv.sample())
        std::fprintf(stderr, "ssehub_bench: cannot read /proc/%d: no server CPU/RSS figures\n", static_cast<int>(o.server_pid));

    load_engine eng(cfg);
    eng.start();
    if (o.scenario == "idle") {
        idle_run(eng, o, out, srv, rows);
    } else {
        connect_phase(eng, o, out, srv);
        std::this_thread::sleep_for(std::chrono::duration<double>(o.settle_s));
        for (const auto& r : o.rates) publish_step(eng, o, r, out, srv, rows);
    }
    eng.stop();
    print_tables(out.human(), rows);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    bench_options o;
    if (auto err = parse_options(argc, argv, o)) {
        std::fprintf(stderr, "ssehub_bench: %s\n%s", err->c_str(), usage().c_str());
        return 2;
    }
    if (o.help) {
        std::fputs(usage().c_str(), stdout);
        return 0;
    }
    if (!o.table_path.empty()) {
        std::ifstream in(o.table_path);
        if (!in) {
            std::fprintf(stderr, "ssehub_bench: cannot read %s\n", o.table_path.c_str());
            return 2;
        }
        print_tables(stdout, read_results(in));
        return 0;
    }
    if (auto err = apply_scenario(o)) {
        std::fprintf(stderr, "ssehub_bench: %s\n", err->c_str());
        return 2;
    }
    raise_fd_limit();
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ssehub_bench: %s\n", e.what());
        return 1;
    }
}
