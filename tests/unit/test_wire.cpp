#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "ssehub/error.hpp"
#include "ssehub/sse_parser.hpp"
#include "ssehub/wire.hpp"

using namespace std::chrono_literals;
using namespace std::string_literals;
namespace wire = ssehub::wire;

namespace {

std::string encoded(std::string_view id, std::string_view type, std::string_view data,
                    std::optional<std::chrono::milliseconds> retry = std::nullopt) {
    std::string out;
    const auto ec = wire::encode(id, type, data, retry, out);
    REQUIRE_FALSE(ec);
    CHECK(out.size() == wire::encoded_size(id, type, data, retry));
    return out;
}

std::string normalise_newlines(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r') {
            out += '\n';
            if (i + 1 < s.size() && s[i + 1] == '\n') {
                ++i;
            }
        } else {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

TEST_CASE("encode writes id, event, retry and data fields", "[wire]") {
    CHECK(encoded("42", "update", "hello") == "id: 42\nevent: update\ndata: hello\n\n");
    CHECK(encoded("", "", "hello") == "data: hello\n\n");
    CHECK(encoded("7", "", "x", 3000ms) == "id: 7\nretry: 3000\ndata: x\n\n");
    CHECK(encoded("", "", "x", 0ms) == "retry: 0\ndata: x\n\n");
    CHECK(encoded(" sp", " t", " lead") == "id:  sp\nevent:  t\ndata:  lead\n\n");
    CHECK(encoded("", "", "a: b") == "data: a: b\n\n");
}

TEST_CASE("encode splits data on CRLF, CR and LF", "[wire]") {
    CHECK(encoded("", "", "a\nb") == "data: a\ndata: b\n\n");
    CHECK(encoded("", "", "a\r\nb") == "data: a\ndata: b\n\n");
    CHECK(encoded("", "", "a\rb") == "data: a\ndata: b\n\n");
    CHECK(encoded("", "", "a\r\nb\rc\nd\n\re") == "data: a\ndata: b\ndata: c\ndata: d\ndata:\ndata: e\n\n");
    CHECK(encoded("", "", "a\n") == "data: a\ndata:\n\n");
    CHECK(encoded("", "", "a\r") == "data: a\ndata:\n\n");
    CHECK(encoded("", "", "\r\n") == "data:\ndata:\n\n");
    CHECK(encoded("", "", "\n\n") == "data:\ndata:\ndata:\n\n");
    CHECK(encoded("", "", "") == "data:\n\n");
    CHECK(encoded("", "", "nul\0inside"s) == "data: nul\0inside\n\n"s);
}

TEST_CASE("encode appends to what is already there", "[wire]") {
    std::string out = "before";
    REQUIRE_FALSE(wire::encode("", "", "x", std::nullopt, out));
    CHECK(out == "beforedata: x\n\n");
}

TEST_CASE("encode rejects CR, LF and NUL in id and type and appends nothing", "[wire]") {
    const std::vector<std::string> bad = {"a\rb", "a\nb", "a\0b"s, "\r", "\n", "\0"s, "x\r\n"};
    for (const auto& b : bad) {
        CAPTURE(b);
        CHECK(wire::validate_id(b) == ssehub::error::invalid_event_field);
        CHECK(wire::validate_type(b) == ssehub::error::invalid_event_field);
        std::string out = "untouched";
        CHECK(wire::encode(b, "", "data", std::nullopt, out) == ssehub::error::invalid_event_field);
        CHECK(wire::encode("", b, "data", std::nullopt, out) == ssehub::error::invalid_event_field);
        CHECK(out == "untouched");
    }
    CHECK_FALSE(wire::validate_id("ok: with colon and ünicode"));
    CHECK_FALSE(wire::validate_type(""));
    std::string out = "untouched";
    CHECK(wire::encode("", "", "x", -1ms, out) == ssehub::error::invalid_event_field);
    CHECK(out == "untouched");
}

TEST_CASE("make_frame encodes an event with the given id", "[wire]") {
    ssehub::event ev;
    ev.id = "ignored";
    ev.type = "tick";
    ev.data = "line1\r\nline2";
    ev.retry = 1500ms;
    ssehub::frame f;
    REQUIRE_FALSE(wire::make_frame(ev, "abc", f));
    REQUIRE(f);
    CHECK(*f == "id: abc\nevent: tick\nretry: 1500\ndata: line1\ndata: line2\n\n");
    CHECK(f->capacity() >= f->size());

    ev.type = "bad\ntype";
    ssehub::frame g = f;
    CHECK(wire::make_frame(ev, "abc", g) == ssehub::error::invalid_event_field);
    CHECK(g == f);
    ev.type.clear();
    CHECK(wire::make_frame(ev, "bad\0id"s, g) == ssehub::error::invalid_event_field);
    CHECK(g == f);
}

TEST_CASE("comment splits lines so it cannot forge a field", "[wire]") {
    CHECK(wire::comment("hi") == ": hi\n\n");
    CHECK(wire::comment("") == ":\n\n");
    CHECK(wire::comment("a\nb\r\nc\rd") == ": a\n: b\n: c\n: d\n\n");

    ssehub::sse_parser p({.keep_comments = true});
    p.feed(wire::comment("x\n\ndata: evil\r\nid: 666\rretry: 1"));
    p.feed("data: real\n\n");
    const auto events = p.drain();
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "real");
    CHECK(p.last_event_id().empty());
    CHECK_FALSE(p.retry());
    CHECK(p.comment_count() == 5);
    CHECK(p.comments() == std::vector<std::string>{"x", "", "data: evil", "id: 666", "retry: 1"});
}

TEST_CASE("heartbeat frame is one shared comment without an id", "[wire]") {
    const ssehub::frame a = wire::heartbeat_frame();
    const ssehub::frame b = wire::heartbeat_frame();
    REQUIRE(a);
    CHECK(a == b);
    CHECK(*a == ": ping\n\n");
    ssehub::sse_parser p;
    p.feed("id: 5\ndata: x\n\n");
    p.feed(*a);
    CHECK(p.drain().size() == 1);
    CHECK(p.last_event_id() == "5");
    CHECK(p.comment_count() == 1);
}

TEST_CASE("retry_field sets the reconnection time without an event", "[wire]") {
    CHECK(wire::retry_field(5s) == "retry: 5000\n\n");
    CHECK(wire::retry_field(-3ms) == "retry: 0\n\n");
    ssehub::sse_parser p;
    p.feed(wire::retry_field(2500ms));
    CHECK(p.retry() == 2500L);
    CHECK(p.drain().empty());
}

TEST_CASE("encode round-trips through a conforming parser", "[wire]") {
    std::mt19937 rng(20240611);
    // Pieces chosen to hit the grammar's corners: spaces, colons, line breaks,
    // field names, a BOM, multi-byte UTF-8, NUL (allowed in data only).
    const std::vector<std::string> data_pieces = {
        "a", "Z", " ", "  ", ":", ": ", "\r", "\n", "\r\n", "\n\r", "data:", "id: 1", "event:",
        "retry: 9", "é", "😀", "\xEF\xBB\xBF", "\t", "\0"s, "xyz"};
    const std::vector<std::string> field_pieces = {"a", "1", " ", ":", "é", "😀", "-", "\t", "id", "data: "};
    auto pick = [&](const std::vector<std::string>& pieces, int max_pieces) {
        std::string s;
        const int n = std::uniform_int_distribution<int>(0, max_pieces)(rng);
        for (int i = 0; i < n; ++i) {
            s += pieces[std::uniform_int_distribution<std::size_t>(0, pieces.size() - 1)(rng)];
        }
        return s;
    };

    for (int round = 0; round < 300; ++round) {
        std::string stream;
        std::vector<ssehub::parsed_event> expected;
        std::string last_id;
        std::optional<long> last_retry;
        const int events = std::uniform_int_distribution<int>(1, 12)(rng);
        for (int e = 0; e < events; ++e) {
            const std::string id = pick(field_pieces, 4);
            const std::string type = pick(field_pieces, 3);
            const std::string data = pick(data_pieces, 10);
            std::optional<std::chrono::milliseconds> retry;
            if (rng() % 4 == 0) {
                retry = std::chrono::milliseconds(rng() % 100000);
                last_retry = static_cast<long>(retry->count());
            }
            if (rng() % 2 == 0) {
                REQUIRE_FALSE(wire::encode(id, type, data, retry, stream));
            } else {
                ssehub::event ev;
                ev.type = type;
                ev.data = data;
                ev.retry = retry;
                ssehub::frame f;
                REQUIRE_FALSE(wire::make_frame(ev, id, f));
                REQUIRE(f->size() == wire::encoded_size(id, type, data, retry));
                stream += *f;
            }
            if (!id.empty()) {
                last_id = id;  // an empty id is not sent: the stream keeps the previous one
            }
            expected.push_back({last_id, type.empty() ? "message" : type, normalise_newlines(data)});
            if (rng() % 5 == 0) {
                stream += wire::comment(pick(data_pieces, 4));
            }
        }
        // Feed in random chunks, so that CRLF and the BOM split across feeds.
        ssehub::sse_parser parser;
        for (std::size_t pos = 0; pos < stream.size();) {
            const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 17)(rng);
            parser.feed(std::string_view(stream).substr(pos, n));
            pos += n;
        }
        const auto got = parser.drain();
        REQUIRE(got.size() == expected.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
            CAPTURE(round, i, stream);
            CHECK(got[i] == expected[i]);
        }
        CHECK(parser.retry() == last_retry);
        CHECK(parser.last_event_id() == last_id);
    }
}
