// fuzz_sse_parser: arbitrary bytes into sse_parser. Whole, split at
// fuzzer-chosen points (queue and callback APIs), and a small reference
// implementation of the WHATWG "interpreting an event stream" rules written
// here must all give the same events, last event id, retry and comment count.
// Input: byte 0-3 split sizes, the rest is the stream.
#include "ssehub/sse_parser.hpp"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

namespace {

using ssehub::parsed_event;

struct reference {
    std::vector<parsed_event> events;
    std::string last_id, id_buf, data, type;
    std::optional<long> retry;
    std::size_t comments = 0;

    void run(std::string_view s) {
        if (s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
        std::size_t start = 0;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (s[i] != '\r' && s[i] != '\n') continue;
            line(s.substr(start, i - start));
            if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
            start = i + 1;
        }
        // An unterminated last line is never processed.
    }
    void line(std::string_view l) {
        if (l.empty()) return dispatch();
        if (l.front() == ':') { ++comments; return; }
        std::string_view field = l, value;
        if (const auto c = l.find(':'); c != std::string_view::npos) {
            field = l.substr(0, c);
            value = l.substr(c + 1);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        }
        if (field == "event") type = value;
        else if (field == "data") { data += value; data += '\n'; }
        else if (field == "id") { if (value.find('\0') == std::string_view::npos) id_buf = value; }
        else if (field == "retry") {
            bool digits = !value.empty();
            for (const char c : value) digits = digits && c >= '0' && c <= '9';
            long v = 0;
            if (digits) {
                const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
                if (ec == std::errc{} && p == value.data() + value.size()) retry = v;  // overflow: ignored
            }
        }
    }
    void dispatch() {
        last_id = id_buf;
        if (data.empty()) { type.clear(); return; }
        data.pop_back();
        events.push_back({last_id, type.empty() ? "message" : type, data});
        data.clear();
        type.clear();
    }
};

void same_state(const ssehub::sse_parser& a, const ssehub::sse_parser& b) {
    FUZZ_CHECK(a.last_event_id() == b.last_event_id());
    FUZZ_CHECK(a.retry() == b.retry());
    FUZZ_CHECK(a.comment_count() == b.comment_count());
    FUZZ_CHECK(a.event_count() == b.event_count());
    FUZZ_CHECK(a.failed() == b.failed());
    FUZZ_CHECK(a.comments() == b.comments());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size < 4) return 0;
    const std::string_view in(reinterpret_cast<const char*>(bytes) + 4, size - 4);

    ssehub::sse_parser whole({.keep_comments = true});
    whole.feed(in);
    const auto evs = whole.drain();
    FUZZ_CHECK(!whole.failed());
    FUZZ_CHECK(whole.event_count() == evs.size());
    FUZZ_CHECK(whole.comments().size() == whole.comment_count());

    ssehub::sse_parser split({.keep_comments = true}), cb({.keep_comments = true});
    std::vector<parsed_event> split_evs, cb_evs;
    std::size_t off = 0, k = 0;
    while (off < in.size()) {
        const std::size_t n = std::min<std::size_t>(1 + bytes[k++ % 4] % 16, in.size() - off);
        const auto chunk = in.substr(off, n);
        split.feed(chunk);
        for (auto& e : split.drain()) split_evs.push_back(std::move(e));
        cb.feed(chunk, [&](const parsed_event& e) { cb_evs.push_back(e); });
        FUZZ_CHECK(cb.pending().empty());
        off += n;
    }
    FUZZ_CHECK(split_evs == evs);
    FUZZ_CHECK(cb_evs == evs);
    same_state(whole, split);
    same_state(whole, cb);

    reference ref;
    ref.run(in);
    FUZZ_CHECK(ref.events == evs);
    FUZZ_CHECK(ref.last_id == whole.last_event_id());
    FUZZ_CHECK(ref.retry == whole.retry());
    FUZZ_CHECK(ref.comments == whole.comment_count());

    // A tiny buffer bound: must fail cleanly, and identically whole or split.
    const std::size_t bound = 1 + bytes[0] % 64;
    ssehub::sse_parser small_whole({.keep_comments = false, .max_buffered = bound});
    ssehub::sse_parser small_split({.keep_comments = false, .max_buffered = bound});
    small_whole.feed(in);
    for (std::size_t i = 0; i < in.size(); i += 7) small_split.feed(in.substr(i, 7));
    if (!small_whole.failed() && !small_split.failed()) {
        FUZZ_CHECK(small_whole.drain() == evs);
        FUZZ_CHECK(small_split.drain() == evs);
    }
    return 0;
}
