// Command line of ssehub_bench.
// Thread safety: plain data and a stateless parser.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace ssehub::bench {

struct bench_options {
    std::string server = "http://127.0.0.1:8080";  // ssehubd base URL; sets the defaults below
    std::string sub_url;   // default SERVER/events?topics={topic}
    std::string pub_url;   // default SERVER/publish
    std::string pub_body = R"({"topics":["{topic}"],"data":{payload}})";
    std::vector<std::string> pub_headers;
    pid_t server_pid = 0;
    std::string scenario = "fanout";  // idle, fanout, topics, custom
    std::optional<std::size_t> subs;
    std::optional<std::size_t> topics;
    std::vector<std::string> rates;  // numbers (events/s) or "max"
    double duration_s = 10;          // per publishing step
    double settle_s = 2;             // after connecting, before measuring
    double drain_s = 5;              // after a step: wait this long without progress for late events
    double connect_timeout_s = 120;  // for all subscribers together
    std::size_t payload_bytes = 64;
    std::size_t publishers = 8;
    std::size_t window = 16;  // "max": events undelivered at most
    std::size_t threads = 1;
    std::size_t source_addrs = 32;
    std::size_t connect_concurrency = 256;
    std::string topic_prefix = "bench";
    std::string json_path;   // "-": stdout (the human output goes to stderr)
    std::string label;       // free text copied into every JSON line
    std::string table_path;  // print the tables of a saved JSON-lines file and exit
    bool help = false;
};

// Parses argv into `o`; returns an error message on a bad command line.
std::optional<std::string> parse_options(int argc, char** argv, bench_options& o);

// Fills what the scenario implies where the command line left it open
// (subscriber and topic counts, rates); an error message on a bad scenario.
std::optional<std::string> apply_scenario(bench_options& o);

std::string usage();

}  // namespace ssehub::bench
