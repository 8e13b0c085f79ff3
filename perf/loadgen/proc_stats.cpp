#include "proc_stats.hpp"

#include <charconv>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

namespace ssehub::bench {
namespace {

std::optional<std::string> slurp(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::optional<double> parse_stat_cpu(std::string_view line, long hz) {
    // pid (comm) state ppid ... ; comm may hold spaces and ')', so start after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string_view::npos || hz <= 0) return std::nullopt;
    std::string_view rest = line.substr(close + 1);
    // Fields after comm start at 3 (state); utime is 14, stime 15.
    unsigned long long utime = 0, stime = 0;
    for (int field = 3; field <= 15; ++field) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        const auto sp = rest.find(' ');
        const std::string_view tok = rest.substr(0, sp);
        if (tok.empty()) return std::nullopt;
        if (field == 14 || field == 15) {
            unsigned long long v = 0;
            const auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
            if (ec != std::errc{} || p != tok.data() + tok.size()) return std::nullopt;
            (field == 14 ? utime : stime) = v;
        }
        if (sp == std::string_view::npos) {
            if (field < 15) return std::nullopt;
            break;
        }
        rest.remove_prefix(sp);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(hz);
}

std::optional<long long> parse_status_rss(std::string_view text) {
    const auto at = text.find("VmRSS:");
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view rest = text.substr(at + 6);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    long long kib = 0;
    const auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kib);
    if (ec != std::errc{} || p == rest.data()) return std::nullopt;
    return kib * 1024;
}

std::optional<process_sample> sample_process(pid_t pid) {
    const std::string base = "/proc/" + std::to_string(pid);
    const auto stat = slurp(base + "/stat");
    const auto status = slurp(base + "/status");
    if (!stat || !status) return std::nullopt;
    const auto cpu = parse_stat_cpu(*stat, ::sysconf(_SC_CLK_TCK));
    const auto rss = parse_status_rss(*status);
    if (!cpu || !rss) return std::nullopt;
    return process_sample{*cpu, *rss};
}

double self_cpu_s() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    return sec(ru.ru_utime) + sec(ru.ru_stime);
}

}  // namespace ssehub::bench
