// Wire encoding and client-side parsing.
#include <benchmark/benchmark.h>

#include <string>

#include "alloc_counter.hpp"
#include "ssehub/sse_parser.hpp"
#include "ssehub/wire.hpp"

namespace {

const std::string small_data = R"({"symbol":"ACME","price":42.17})";

std::string multiline_1k(std::string_view line_break) {
    std::string s;
    while (s.size() < 1024) {
        s += R"({"row":12345,"text":"lorem ipsum dolor sit amet"})";
        s += line_break;
    }
    s.resize(1024);
    return s;
}

void encode_bench(benchmark::State& state, const std::string& data) {
    std::string out;
    out.reserve(4096);
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        out.clear();
        auto ec = ssehub::wire::encode("1718000000000-42", "price", data, std::nullopt, out);
        benchmark::DoNotOptimize(ec);
        benchmark::DoNotOptimize(out.data());
    }
    allocs.report(state);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * data.size()));
}

void BM_encode_small(benchmark::State& state) { encode_bench(state, small_data); }
BENCHMARK(BM_encode_small);

void BM_encode_1k_lf(benchmark::State& state) { encode_bench(state, multiline_1k("\n")); }
BENCHMARK(BM_encode_1k_lf);

void BM_encode_1k_crlf(benchmark::State& state) { encode_bench(state, multiline_1k("\r\n")); }
BENCHMARK(BM_encode_1k_crlf);

void make_frame_bench(benchmark::State& state, const std::string& data) {
    ssehub::event ev;
    ev.type = "price";
    ev.data = data;
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        ssehub::frame f;
        auto ec = ssehub::wire::make_frame(ev, "1718000000000-42", f);
        benchmark::DoNotOptimize(ec);
        benchmark::DoNotOptimize(f.get());
    }
    allocs.report(state);
}

void BM_make_frame_small(benchmark::State& state) { make_frame_bench(state, small_data); }
BENCHMARK(BM_make_frame_small);

void BM_make_frame_1k(benchmark::State& state) { make_frame_bench(state, multiline_1k("\n")); }
BENCHMARK(BM_make_frame_1k);

void BM_heartbeat_frame(benchmark::State& state) {
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        ssehub::frame f = ssehub::wire::heartbeat_frame();
        benchmark::DoNotOptimize(f.get());
    }
    allocs.report(state);
}
BENCHMARK(BM_heartbeat_frame);

// Client side (the load generator): parse a stream of small events fed in
// 1460-byte pieces, events delivered by callback.
void BM_sse_parser_small_events(benchmark::State& state) {
    std::string stream;
    int events = 0;
    for (; stream.size() < 64 * 1024; ++events) {
        (void)ssehub::wire::encode(std::to_string(events), "price", small_data, std::nullopt, stream);
    }
    ssehub::sse_parser parser;
    std::size_t seen = 0;
    auto on_event = [&seen](const ssehub::parsed_event& ev) { seen += ev.data.size(); };
    parser.feed(stream, on_event);  // warm the buffers
    ssehub::perf::alloc_counter allocs;
    for (auto _ : state) {
        for (std::size_t pos = 0; pos < stream.size(); pos += 1460) {
            parser.feed(std::string_view(stream).substr(pos, 1460), on_event);
        }
    }
    benchmark::DoNotOptimize(seen);
    allocs.report(state);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
    state.SetItemsProcessed(state.iterations() * events);
}
BENCHMARK(BM_sse_parser_small_events);

}  // namespace
