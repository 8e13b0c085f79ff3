#include "bench_options.hpp"

#include <charconv>
#include <string_view>

namespace ssehub::bench {
namespace {

template <class T>
bool parse_num(std::string_view s, T& out) {
    if constexpr (std::is_floating_point_v<T>) {
        try {
            std::size_t used = 0;
            const double v = std::stod(std::string(s), &used);
            if (used != s.size() || v < 0) return false;
            out = static_cast<T>(v);
            return true;
        } catch (...) {
            return false;
        }
    } else {
        T v{};
        const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc{} || p != s.data() + s.size()) return false;
        out = v;
        return true;
    }
}

std::vector<std::string> split(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        if (comma != 0) out.emplace_back(s.substr(0, comma));
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace

std::string usage() {
    return R"(ssehub_bench: SSE load generator (subscribers + publisher, one process)

  --server URL            ssehubd base URL (default http://127.0.0.1:8080)
  --sub-url TMPL          subscribe URL; {topic} is replaced (default SERVER/events?topics={topic})
  --pub-url TMPL          publish URL, POSTed; {topic} is replaced (default SERVER/publish)
  --pub-body TMPL         publish body; {topic}, {payload} (a JSON object) are replaced
                          (default {"topics":["{topic}"],"data":{payload}})
  --pub-header 'N: V'     extra header on each publish (repeatable), e.g. X-Publisher-Key
  --server-pid PID        report this process's CPU seconds and RSS
  --scenario NAME         idle | fanout | topics | custom (default fanout)
                            idle:   connect, settle, report server RSS per connection
                            fanout: 1 topic; rates 100,300,1000,max (<=1000 subs) or 10,30,100,max
                            topics: 10000 subs on 1000 topics at 3000 msg/s
  --subs N                subscriber connections (idle/fanout default 1000)
  --topics N              topics; subscriber i takes topic i mod N
  --rates LIST            publish rates in events/s, comma-separated; "max" = as fast as
                          deliveries keep up with at most --window events undelivered
  --duration S            seconds per rate (default 10)
  --settle S              seconds between connecting and measuring (default 2)
  --drain S               after a rate step, wait up to S seconds without progress (default 5)
  --connect-timeout S     for all connections (default 120)
  --payload-bytes N       event data size (default 64)
  --publishers N          publisher connections (default 8; keep-alive when the server allows)
  --window N              "max": undelivered events at most (default 16)
  --threads N             I/O threads for the subscribers (default 1)
  --source-addrs N        bind subscribers to 127.0.0.2.. (N addresses) when the server is on
                          127.x, for more ephemeral ports (default 32; 0 = off)
  --connect-concurrency N connection attempts in flight per thread (default 256)
  --topic-prefix P        topic names are P0, P1, ... (default bench)
  --json PATH             JSON lines (progress and results) to PATH ("-": stdout)
  --label TEXT            copied into each JSON line
  --table PATH            print the summary tables of a saved JSON-lines file and exit
)";
}

std::optional<std::string> parse_options(int argc, char** argv, bench_options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            o.help = true;
            continue;
        }
        if (!arg.starts_with("--")) return "unexpected argument " + std::string(arg);
        std::string_view name = arg.substr(2);
        std::string value;
        if (const auto eq = name.find('='); eq != std::string_view::npos) {
            value = std::string(name.substr(eq + 1));
            name = name.substr(0, eq);
        } else {
            if (i + 1 >= argc) return "--" + std::string(name) + " needs a value";
            value = argv[++i];
        }
        auto bad = [&] { return std::optional<std::string>("--" + std::string(name) + ": bad value '" + value + "'"); };
        std::size_t n = 0;
        double d = 0;
        if (name == "server") o.server = value;
        else if (name == "sub-url") o.sub_url = value;
        else if (name == "pub-url") o.pub_url = value;
        else if (name == "pub-body") o.pub_body = value;
        else if (name == "pub-header") o.pub_headers.push_back(value);
        else if (name == "server-pid") {
            if (!parse_num(value, n) || n == 0) return bad();
            o.server_pid = static_cast<pid_t>(n);
        } else if (name == "scenario") o.scenario = value;
        else if (name == "subs") {
            if (!parse_num(value, n) || n == 0) return bad();
            o.subs = n;
        } else if (name == "topics") {
            if (!parse_num(value, n) || n == 0) return bad();
            o.topics = n;
        } else if (name == "rates") {
            o.rates = split(value);
            for (const auto& r : o.rates)
                if (r != "max" && (!parse_num(r, d) || d <= 0)) return bad();
        } else if (name == "duration") {
            if (!parse_num(value, o.duration_s) || o.duration_s <= 0) return bad();
        } else if (name == "settle") {
            if (!parse_num(value, o.settle_s)) return bad();
        } else if (name == "drain") {
            if (!parse_num(value, o.drain_s)) return bad();
        } else if (name == "connect-timeout") {
            if (!parse_num(value, o.connect_timeout_s) || o.connect_timeout_s <= 0) return bad();
        } else if (name == "payload-bytes") {
            if (!parse_num(value, o.payload_bytes) || o.payload_bytes > (1u << 20)) return bad();
        } else if (name == "publishers") {
            if (!parse_num(value, o.publishers) || o.publishers == 0 || o.publishers > 1024) return bad();
        } else if (name == "window") {
            if (!parse_num(value, o.window) || o.window == 0) return bad();
        } else if (name == "threads") {
            if (!parse_num(value, o.threads) || o.threads == 0 || o.threads > 256) return bad();
        } else if (name == "source-addrs") {
            if (!parse_num(value, o.source_addrs) || o.source_addrs > 250) return bad();
        } else if (name == "connect-concurrency") {
            if (!parse_num(value, o.connect_concurrency) || o.connect_concurrency == 0) return bad();
        } else if (name == "topic-prefix") o.topic_prefix = value;
        else if (name == "json") o.json_path = value;
        else if (name == "label") o.label = value;
        else if (name == "table") o.table_path = value;
        else return "unknown option --" + std::string(name);
    }
    return std::nullopt;
}

std::optional<std::string> apply_scenario(bench_options& o) {
    if (o.scenario == "idle") {
        if (!o.subs) o.subs = 1000;
        if (!o.topics) o.topics = 1;
        o.rates.clear();
    } else if (o.scenario == "fanout") {
        if (!o.subs) o.subs = 1000;
        if (!o.topics) o.topics = 1;
        if (o.rates.empty())
            o.rates = *o.subs <= 1000 ? std::vector<std::string>{"100", "300", "1000", "max"}
                                      : std::vector<std::string>{"10", "30", "100", "max"};
    } else if (o.scenario == "topics") {
        if (!o.subs) o.subs = 10000;
        if (!o.topics) o.topics = 1000;
        if (o.rates.empty()) o.rates = {"3000"};
    } else if (o.scenario == "custom") {
        if (!o.subs) o.subs = 1000;
        if (!o.topics) o.topics = 1;
        if (o.rates.empty()) return "--scenario custom needs --rates";
    } else {
        return "unknown scenario '" + o.scenario + "' (idle, fanout, topics, custom)";
    }
    while (o.server.ends_with('/')) o.server.pop_back();
    if (o.sub_url.empty()) o.sub_url = o.server + "/events?topics={topic}";
    if (o.pub_url.empty()) o.pub_url = o.server + "/publish";
    return std::nullopt;
}

}  // namespace ssehub::bench
