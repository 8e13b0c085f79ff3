// fuzz_http_head: http::request_parser fed the input whole and in chunks of
// fuzzer-chosen sizes must agree exactly (result, bytes consumed, status,
// message, request); accessors of a parsed request must be safe; after reset()
// the rest of the input (a pipelined request) parses as with a fresh parser.
// Input: byte 0-1 limits, bytes 2..9 chunk sizes, the rest is the request head.
#include "ssehub/http.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

using ssehub::http::request;
using ssehub::http::request_parser;

struct outcome {
    request_parser::result r;
    std::size_t consumed;
};

outcome feed_whole(request_parser& p, std::string_view in) {
    std::size_t c = 0;
    const auto r = p.feed(in, c);
    FUZZ_CHECK(c <= in.size());
    if (r == request_parser::result::need_more) FUZZ_CHECK(c == in.size());
    return {r, c};
}

outcome feed_chunked(request_parser& p, std::string_view in, const unsigned char* sizes, std::size_t nsizes) {
    std::size_t off = 0, total = 0, k = 0;
    for (;;) {
        std::size_t want = nsizes ? sizes[k % nsizes] % 24 : 1;  // 0: an empty feed
        if (want == 0 && nsizes && k % nsizes == 0) want = 1;      // progress every round
        ++k;
        const std::size_t n = std::min(want, in.size() - off);
        std::size_t c = 12345;
        const auto r = p.feed(in.substr(off, n), c);
        FUZZ_CHECK(c <= n);
        total += c;
        if (r != request_parser::result::need_more) return {r, total};
        FUZZ_CHECK(c == n);
        off += n;
        if (off == in.size()) return {r, total};
    }
}

void same_request(const request& a, const request& b) {
    FUZZ_CHECK(a.method == b.method);
    FUZZ_CHECK(a.target == b.target);
    FUZZ_CHECK(a.version_minor == b.version_minor);
    FUZZ_CHECK(a.headers.size() == b.headers.size());
    for (std::size_t i = 0; i < a.headers.size(); ++i) {
        FUZZ_CHECK(a.headers[i].name == b.headers[i].name);
        FUZZ_CHECK(a.headers[i].value == b.headers[i].value);
    }
}

void exercise(const request& q) {
    const std::string_view path = q.path();
    const std::string_view query = q.query();
    FUZZ_CHECK(path.size() <= q.target.size());
    if (q.target.find('?') != std::string::npos) {
        FUZZ_CHECK(std::string(path) + "?" + std::string(query) == q.target);
    } else {
        FUZZ_CHECK(path == q.target);
        FUZZ_CHECK(query.empty());
    }
    (void)q.query_param("topics");
    (void)q.query_param("lastEventId");
    (void)q.query_param("");
    if (!q.headers.empty()) {
        (void)q.query_param(q.headers.front().value);
        FUZZ_CHECK(q.find(q.headers.front().name) != nullptr);
    }
    if (const auto cl = q.content_length()) {
        const std::string* h = q.find("Content-Length");
        FUZZ_CHECK(h != nullptr);
        FUZZ_CHECK(std::to_string(*cl) == *h || (!h->empty() && (*h)[0] == '0'));
    }
    (void)q.chunked();
    (void)q.keep_alive();
    (void)q.find("Host");
    (void)q.find("Last-Event-ID");
}

void check_state(request_parser& p, request_parser::result r) {
    const int status = p.error_status();
    if (r == request_parser::result::error) {
        FUZZ_CHECK(status == 400 || status == 431 || status == 501 || status == 505);
        FUZZ_CHECK(!p.error_message().empty());
    } else {
        FUZZ_CHECK(status == 0);
        FUZZ_CHECK(p.error_message().empty());
    }
    if (r != request_parser::result::need_more) {  // sticky: same result, nothing consumed
        std::size_t c = 99;
        FUZZ_CHECK(p.feed("GET / HTTP/1.1\r\n\r\n", c) == r);
        FUZZ_CHECK(c == 0);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 10) return 0;
    const std::size_t max_head = data[0] < 128 ? request_parser::default_max_head_bytes : 16 + data[0] * 2u;
    const std::size_t max_headers = data[1] < 128 ? request_parser::default_max_headers : data[1] % 8u;
    const unsigned char* sizes = data + 2;
    const std::string_view in(reinterpret_cast<const char*>(data + 10), size - 10);

    request_parser whole(max_head, max_headers), split(max_head, max_headers);
    const outcome a = feed_whole(whole, in);
    const outcome b = feed_chunked(split, in, sizes, 8);
    FUZZ_CHECK(a.r == b.r);
    FUZZ_CHECK(a.consumed == b.consumed);
    FUZZ_CHECK(whole.error_status() == split.error_status());
    FUZZ_CHECK(whole.error_message() == split.error_message());
    check_state(whole, a.r);
    check_state(split, b.r);
    request_parser one_byte(max_head, max_headers);
    const outcome c = feed_chunked(one_byte, in, nullptr, 0);
    FUZZ_CHECK(a.r == c.r && a.consumed == c.consumed);

    if (a.r == request_parser::result::done) {
        same_request(whole.get(), split.get());
        same_request(whole.get(), one_byte.get());
        FUZZ_CHECK(!whole.get().method.empty());
        FUZZ_CHECK(whole.get().version_minor == 0 || whole.get().version_minor == 1);
        exercise(whole.get());
        // A pipelined second head: reset() must behave like a fresh parser.
        const std::string_view rest = in.substr(a.consumed);
        whole.reset();
        request_parser fresh(max_head, max_headers);
        const outcome d = feed_whole(whole, rest);
        const outcome e = feed_whole(fresh, rest);
        FUZZ_CHECK(d.r == e.r && d.consumed == e.consumed);
        FUZZ_CHECK(whole.error_status() == fresh.error_status());
        if (d.r == request_parser::result::done) {
            same_request(whole.get(), fresh.get());
            exercise(fresh.get());
        }
    }
    return 0;
}
