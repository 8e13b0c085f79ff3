// fuzz_sse_round_trip: what the hub writes on one connection, decoded by a
// conforming SSE parser. A fuzzer-chosen sequence of events (id, type, data,
// retry), comments, heartbeats and retry fields is encoded back to back with
// src/wire.cpp (make_frame for events, as the hub does) and decoded with
// src/sse_parser.cpp, whole and in fuzzer-chosen chunks. Invariants:
//  - an event is refused (make_frame fails, nothing produced) iff its id or
//    type holds CR, LF or NUL, or its retry is negative;
//  - the parser sees exactly the accepted events, in order: data with line
//    ends normalised to LF, type or "message", id = the last non-empty id
//    sent so far (an event without id keeps the stream's last id, as the
//    WHATWG rules say); nothing else dispatches (comments, heartbeats,
//    retry fields never do); retry() is the last retry sent;
//  - comments come back as their text, one per line; chunking changes nothing.
// Input: a list of records; record = 1 op byte, then op-dependent lengths
// and bytes taken from the input.
#include "ssehub/event.hpp"
#include "ssehub/sse_parser.hpp"
#include "ssehub/wire.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

namespace wire = ssehub::wire;

bool has_crlfnul(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; }

class input {
public:
    explicit input(std::string_view s) : s_(s) {}
    bool empty() const { return s_.empty(); }
    unsigned byte() {
        if (s_.empty()) return 0;
        const auto c = static_cast<unsigned char>(s_.front());
        s_.remove_prefix(1);
        return c;
    }
    std::string_view take(std::size_t n) {
        n = std::min(n, s_.size());
        const auto out = s_.substr(0, n);
        s_.remove_prefix(n);
        return out;
    }

private:
    std::string_view s_;
};

struct expected_stream {
    std::string bytes;
    std::vector<ssehub::parsed_event> events;
    std::vector<std::string> comments;
    std::optional<long> retry;
    std::string last_id;
};

void split_comment(std::string_view text, std::vector<std::string>& out) {
    const std::string norm = fuzz::normalise_line_ends(text);
    std::size_t start = 0;
    for (;;) {
        const auto nl = norm.find('\n', start);
        out.push_back(norm.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (nl == std::string::npos) return;
        start = nl + 1;
    }
}

void add_event(input& in, expected_stream& x) {
    const unsigned lens = in.byte();
    const std::string_view id = in.take(lens & 0x0f);
    const std::string_view type = in.take((lens >> 4) & 0x0f);
    const std::string_view data = in.take(in.byte() % 96);
    const unsigned r = in.byte();
    ssehub::event ev;
    ev.type = std::string(type);
    ev.data = std::string(data);
    if (r >= 160) ev.retry = std::chrono::milliseconds(static_cast<long>(r) * 131 - 21000);  // some negative
    const bool bad = has_crlfnul(id) || has_crlfnul(type) || (ev.retry && ev.retry->count() < 0);
    ssehub::frame f;
    const auto ec = wire::make_frame(ev, id, f);
    FUZZ_CHECK(static_cast<bool>(ec) == bad);
    if (bad) {
        FUZZ_CHECK(f == nullptr);
        return;
    }
    FUZZ_CHECK(f != nullptr && f->size() == wire::encoded_size(id, type, data, ev.retry));
    x.bytes += *f;
    if (!id.empty()) x.last_id = std::string(id);
    if (ev.retry) x.retry = ev.retry->count();
    x.events.push_back(ssehub::parsed_event{x.last_id, type.empty() ? "message" : std::string(type),
                                            fuzz::normalise_line_ends(data)});
}

expected_stream build(std::string_view raw) {
    input in(raw);
    expected_stream x;
    for (int n = 0; !in.empty() && n < 64; ++n) {
        switch (in.byte() % 4) {
        case 0:
        case 1: add_event(in, x); break;
        case 2: {
            const std::string_view text = in.take(in.byte() % 48);
            x.bytes += wire::comment(text);
            split_comment(text, x.comments);
            break;
        }
        default:
            if (in.byte() % 2 == 0) {
                x.bytes += *wire::heartbeat_frame();
                x.comments.emplace_back("ping");
            } else {
                const long ms = static_cast<long>(in.byte()) * 1000 - 3000;
                x.bytes += wire::retry_field(std::chrono::milliseconds(ms));
                x.retry = std::max(0L, ms);
            }
            break;
        }
    }
    return x;
}

void check(const ssehub::sse_parser& p, const std::vector<ssehub::parsed_event>& got, const expected_stream& x) {
    FUZZ_CHECK(!p.failed());
    FUZZ_CHECK(got == x.events);
    FUZZ_CHECK(p.event_count() == x.events.size());
    FUZZ_CHECK(p.comments() == x.comments);
    FUZZ_CHECK(p.comment_count() == x.comments.size());
    FUZZ_CHECK(p.retry() == x.retry);
    FUZZ_CHECK(p.last_event_id() == x.last_id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    // Byte 0 seeds the chunk sizes; the rest describes the stream.
    const unsigned chunk_seed = data[0];
    const expected_stream x = build(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));

    ssehub::sse_parser::options opts;
    opts.keep_comments = true;
    ssehub::sse_parser whole(opts);
    whole.feed(x.bytes);
    check(whole, whole.drain(), x);

    ssehub::sse_parser chunked(opts);
    std::vector<ssehub::parsed_event> got;
    std::size_t at = 0, step = 0;
    while (at < x.bytes.size()) {
        const std::size_t n = std::min<std::size_t>(x.bytes.size() - at, 1 + (chunk_seed * (++step) * 7) % 23);
        chunked.feed(std::string_view(x.bytes).substr(at, n), [&](const ssehub::parsed_event& ev) { got.push_back(ev); });
        at += n;
    }
    check(chunked, got, x);
    return 0;
}
