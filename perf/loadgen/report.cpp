#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace ssehub::bench {
namespace {

struct column {
    std::string_view title;
    std::string_view member;
    int digits;  // -1: text
};

void print_one(std::FILE* out, const std::vector<const json::value*>& rows, const std::vector<column>& cols) {
    std::vector<std::vector<std::string>> cells;
    std::vector<std::size_t> width;
    for (const auto& c : cols) width.push_back(c.title.size());
    for (const json::value* r : rows) {
        std::vector<std::string> line;
        for (std::size_t i = 0; i < cols.size(); ++i) {
            const json::value* v = r->find(cols[i].member);
            std::string s = cols[i].digits < 0 ? (v && v->is_string() ? v->as_string() : format_number(v, 0))
                                               : format_number(v, cols[i].digits);
            width[i] = std::max(width[i], s.size());
            line.push_back(std::move(s));
        }
        cells.push_back(std::move(line));
    }
    auto rule = [&] {
        std::string s = "|";
        for (auto w : width) {
            s.append(w + 2, '-');
            s.push_back('|');
        }
        std::fprintf(out, "%s\n", s.c_str());
    };
    auto row = [&](const std::vector<std::string>& v) {
        std::string s = "|";
        for (std::size_t i = 0; i < v.size(); ++i) {
            s.push_back(' ');
            s.append(width[i] - v[i].size(), ' ');
            s.append(v[i]);
            s.append(" |");
        }
        std::fprintf(out, "%s\n", s.c_str());
    };
    std::vector<std::string> titles;
    for (const auto& c : cols) titles.emplace_back(c.title);
    row(titles);
    rule();
    for (const auto& l : cells) row(l);
}

}  // namespace

std::string format_number(const json::value* v, int digits) {
    if (!v || !v->is_number()) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v->as_double());
    return buf;
}

std::vector<json::value> read_results(std::istream& in) {
    std::vector<json::value> rows;
    std::string line;
    while (std::getline(in, line)) {
        json::value v;
        if (!json::parse(line, v) || !v.is_object()) continue;
        const json::value* type = v.find("type");
        if (type && type->is_string() && type->as_string() == "result") rows.push_back(std::move(v));
    }
    return rows;
}

void print_tables(std::FILE* out, const std::vector<json::value>& rows) {
    std::vector<const json::value*> idle, load;
    for (const auto& r : rows) {
        const json::value* s = r.find("scenario");
        (s && s->is_string() && s->as_string() == "idle" ? idle : load).push_back(&r);
    }
    if (!idle.empty()) {
        std::fprintf(out, "\nIdle connections (server RSS growth per connection):\n\n");
        print_one(out, idle,
                  {{"connections", "subs", 0},
                   {"connected", "connected", 0},
                   {"failed", "failed", 0},
                   {"server RSS before MiB", "rss_before_mib", 1},
                   {"after MiB", "rss_after_mib", 1},
                   {"bytes/conn", "bytes_per_conn", 0},
                   {"connect s", "connect_s", 2},
                   {"server CPU s", "server_cpu_s", 2},
                   {"bench CPU s", "bench_cpu_s", 2}});
    }
    if (!load.empty()) {
        std::fprintf(out, "\nPublishing (latency = publish request sent -> event parsed by the subscriber):\n\n");
        print_one(out, load,
                  {{"scenario", "scenario", -1},
                   {"subs", "subs", 0},
                   {"topics", "topics", 0},
                   {"offered msg/s", "rate", -1},
                   {"sent msg/s", "publish_rate", 0},
                   {"deliveries/s", "deliveries_per_s", 0},
                   {"p50 ms", "p50_ms", 2},
                   {"p99 ms", "p99_ms", 2},
                   {"max ms", "max_ms", 1},
                   {"lost", "lost", 0},
                   {"rejected", "rejected", 0},
                   {"server CPU %", "server_cpu_pct", 0},
                   {"server ms/1k deliv", "server_ms_per_1k", 2},
                   {"server RSS MiB", "server_rss_mib", 0},
                   {"bench CPU %", "bench_cpu_pct", 0}});
    }
}

}  // namespace ssehub::bench
