// CPU time and memory of a process, read from /proc, and this process's own
// CPU time (getrusage), for the load generator's report.
// Thread safety: stateless free functions, safe from any thread.
#pragma once

#include <optional>
#include <string_view>
#include <sys/types.h>

namespace ssehub::bench {

struct process_sample {
    double cpu_s = 0;        // user + system CPU seconds
    long long rss_bytes = 0;  // resident set size (VmRSS)
};

// /proc/PID/stat (utime + stime) and /proc/PID/status (VmRSS); nullopt when
// the process is gone or the files cannot be read.
std::optional<process_sample> sample_process(pid_t pid);

// The CPU fields of a /proc/PID/stat line, in seconds (ticks / `hz`).
std::optional<double> parse_stat_cpu(std::string_view stat_line, long hz);
// VmRSS from the text of /proc/PID/status, in bytes.
std::optional<long long> parse_status_rss(std::string_view status_text);

// This process: user + system CPU seconds of all its threads.
double self_cpu_s();

}  // namespace ssehub::bench
