#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "ssehub/sse_parser.hpp"

using namespace std::string_literals;
using ssehub::parsed_event;
using ssehub::sse_parser;

namespace {

std::vector<parsed_event> parse_all(std::string_view stream) {
    sse_parser p;
    p.feed(stream);
    return p.drain();
}

std::vector<parsed_event> parse_bytewise(std::string_view stream) {
    sse_parser p;
    for (char c : stream) {
        p.feed(std::string_view(&c, 1));
    }
    return p.drain();
}

std::vector<std::string> datas(const std::vector<parsed_event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
        out.push_back(e.data);
    }
    return out;
}

using string_list = std::vector<std::string>;

}  // namespace

TEST_CASE("parser dispatches on a blank line with the default type", "[sse_parser]") {
    const auto events = parse_all("data: hello\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0] == parsed_event{"", "message", "hello"});
    CHECK(parse_all("data: hello\n").empty());  // unterminated: never dispatched
    CHECK(parse_all("data: hello").empty());
}

TEST_CASE("parser accepts CRLF, CR and LF line ends, also split across feeds", "[sse_parser]") {
    CHECK(datas(parse_all("data: a\r\ndata: b\r\n\r\n")) == string_list{"a\nb"});
    CHECK(datas(parse_all("data: a\rdata: b\r\r")) == string_list{"a\nb"});
    CHECK(datas(parse_all("data: a\ndata: b\n\n")) == string_list{"a\nb"});
    CHECK(datas(parse_all("data: a\r\ndata: b\rdata: c\n\r\n")) == string_list{"a\nb\nc"});
    CHECK(datas(parse_all("data: a\n\rdata: b\r\n\n")) == string_list{"a", "b"});

    // A CR ending one feed and an LF starting the next are one line end.
    sse_parser p;
    p.feed("data: a\r");
    p.feed("\ndata: b\r\n\r");
    p.feed("\n");
    CHECK(datas(p.drain()) == string_list{"a\nb"});
    p.feed("data: c\r");
    p.feed("\r");
    CHECK(datas(p.drain()) == string_list{"c"});
}

TEST_CASE("parser strips exactly one leading space and splits at the first colon", "[sse_parser]") {
    CHECK(datas(parse_all("data:nospace\n\n")) == string_list{"nospace"});
    CHECK(datas(parse_all("data:  two\n\n")) == string_list{" two"});
    CHECK(datas(parse_all("data: a:b: c\n\n")) == string_list{"a:b: c"});
    CHECK(datas(parse_all("data:\t tab\n\n")) == string_list{"\t tab"});
    CHECK(datas(parse_all("data: \n\n")) == string_list{""});
}

TEST_CASE("parser treats a field without colon as an empty value", "[sse_parser]") {
    CHECK(datas(parse_all("data\n\n")) == string_list{""});
    CHECK(datas(parse_all("data\ndata\n\n")) == string_list{"\n"});
    CHECK(datas(parse_all("data:\ndata:\ndata: x\n\n")) == string_list{"\n\nx"});
    sse_parser p;
    p.feed("id: 1\nid\n\n");
    CHECK(p.last_event_id().empty());
}

TEST_CASE("parser handles event types", "[sse_parser]") {
    const auto events = parse_all("event: add\ndata: 1\n\ndata: 2\n\nevent: x\n\ndata: 3\n\nevent\ndata: 4\n\n");
    REQUIRE(events.size() == 4);
    CHECK(events[0].type == "add");
    CHECK(events[1].type == "message");  // type buffer reset after dispatch
    CHECK(events[2].type == "message");  // reset even when nothing was dispatched
    CHECK(events[3].type == "message");  // empty type means "message"
    CHECK(parse_all("Event: x\ndata: y\n\n")[0].type == "message");  // field names are case-sensitive
}

TEST_CASE("parser tracks the last event id", "[sse_parser]") {
    sse_parser p;
    p.feed("id: 1\ndata: a\n\ndata: b\n\n");
    auto events = p.drain();
    REQUIRE(events.size() == 2);
    CHECK(events[0].id == "1");
    CHECK(events[1].id == "1");  // the id persists

    p.feed("id: 2\n\n");  // no data: no event, but the id is updated
    CHECK(p.drain().empty());
    CHECK(p.last_event_id() == "2");

    p.feed("id: 3\0x\ndata: c\n\n"s);  // an id with NUL is ignored
    events = p.drain();
    REQUIRE(events.size() == 1);
    CHECK(events[0].id == "2");

    p.feed("id: 4\n");  // not yet dispatched
    CHECK(p.last_event_id() == "2");
    p.feed("\n");
    CHECK(p.last_event_id() == "4");

    p.feed("id:  spaced \ndata: d\n\n");
    CHECK(p.drain().at(0).id == " spaced ");
}

TEST_CASE("parser accepts retry only when all ASCII digits", "[sse_parser]") {
    sse_parser p;
    CHECK_FALSE(p.retry());
    p.feed("retry: 1000\n");
    CHECK(p.retry() == 1000L);
    for (const char* bad : {"retry: 10a\n", "retry: -5\n", "retry:\n", "retry\n", "retry:  100\n",
                            "retry: 1.5\n", "retry: +7\n", "retry: 99999999999999999999999999\n"}) {
        p.feed(bad);
        CHECK(p.retry() == 1000L);
    }
    p.feed("retry:0\n");
    CHECK(p.retry() == 0L);
    CHECK(p.drain().empty());
}

TEST_CASE("parser ignores unknown fields and counts comments", "[sse_parser]") {
    sse_parser p({.keep_comments = true});
    p.feed(": hello\n:\n:  two\nfoo: bar\nDATA: no\n data: no\ndata: yes\n\n");
    const auto events = p.drain();
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == "yes");
    CHECK(p.comment_count() == 3);
    CHECK(p.comments() == string_list{"hello", "", " two"});

    sse_parser q;  // without keep_comments only the count is kept
    q.feed(": a\n: b\n");
    CHECK(q.comment_count() == 2);
    CHECK(q.comments().empty());
}

TEST_CASE("parser ignores one leading BOM only", "[sse_parser]") {
    CHECK(datas(parse_all("\xEF\xBB\xBF" "data: x\n\n")) == string_list{"x"});
    CHECK(datas(parse_bytewise("\xEF\xBB\xBF" "data: x\n\n")) == string_list{"x"});
    // A second BOM is part of the field name: unknown field.
    CHECK(parse_all("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\n").empty());
    // A partial BOM is content, not dropped.
    CHECK(parse_all("\xEF" "data: x\n\n").empty());
    CHECK(parse_bytewise("\xEF\xBB" "data: x\n\n").empty());
    // A BOM later in the stream is content.
    CHECK(datas(parse_all("data: a\n\ndata: \xEF\xBB\xBFz\n\n")) == string_list{"a", "\xEF\xBB\xBFz"});
}

TEST_CASE("parser results do not depend on how the input is split", "[sse_parser]") {
    const std::string stream =
        "\xEF\xBB\xBF: comment\r\nid: 1\revent: e\ndata: a\r\n"
        "data:  b\r\rretry: 300\ndata\n\nid: 2\n\ndata: c:d\r\n\r\n";
    sse_parser whole;
    whole.feed(stream);
    const auto expected = whole.drain();
    REQUIRE(expected.size() == 3);
    CHECK(expected[0] == parsed_event{"1", "e", "a\n b"});
    CHECK(expected[1] == parsed_event{"1", "message", ""});
    CHECK(expected[2] == parsed_event{"2", "message", "c:d"});
    CHECK(parse_bytewise(stream) == expected);

    std::mt19937 rng(7);
    for (int i = 0; i < 200; ++i) {
        sse_parser p;
        for (std::size_t pos = 0; pos < stream.size();) {
            const std::size_t n = std::uniform_int_distribution<std::size_t>(0, 9)(rng);
            p.feed(std::string_view(stream).substr(pos, n));
            pos += n;
        }
        CHECK(p.drain() == expected);
        CHECK(p.retry() == 300L);
        CHECK(p.last_event_id() == "2");
        CHECK(p.comment_count() == 1);
    }
}

TEST_CASE("parser callback form reuses its buffers", "[sse_parser]") {
    sse_parser p;
    std::vector<parsed_event> got;
    auto on_event = [&got](const parsed_event& ev) { got.push_back(ev); };
    p.feed("id: 9\nevent: t\ndata: one\n\ndata: two\n", on_event);
    p.feed("\n", on_event);
    CHECK(p.pending().empty());
    REQUIRE(got.size() == 2);
    CHECK(got[0] == parsed_event{"9", "t", "one"});
    CHECK(got[1] == parsed_event{"9", "message", "two"});
    CHECK(p.event_count() == 2);
}

TEST_CASE("parser is linear on long lines fed in small pieces", "[sse_parser]") {
    const std::string big(1u << 20, 'x');
    sse_parser p;
    p.feed("data: ");
    for (std::size_t pos = 0; pos < big.size(); pos += 16) {
        p.feed(std::string_view(big).substr(pos, 16));
    }
    p.feed("\n\n");
    const auto events = p.drain();
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == big);
}

TEST_CASE("parser fails beyond max_buffered and ignores further input", "[sse_parser]") {
    sse_parser p({.max_buffered = 64});
    p.feed("data: " + std::string(40, 'a') + "\n");
    CHECK_FALSE(p.failed());
    p.feed("data: " + std::string(40, 'b'));
    CHECK(p.failed());
    p.feed("\n\ndata: x\n\n");
    CHECK(p.drain().empty());

    p.reset_stream();  // a new connection starts afresh
    CHECK_FALSE(p.failed());
    p.feed("data: y\n\n");
    CHECK(datas(p.drain()) == string_list{"y"});
}

TEST_CASE("parser reset_stream drops partial input and keeps the last id", "[sse_parser]") {
    sse_parser p;
    p.feed("id: 5\nretry: 10\ndata: x\n\ndata: partial\nevent: e\nda");
    CHECK(p.drain().size() == 1);
    p.reset_stream();
    p.feed("\xEF\xBB\xBF" "ta: y\n\n");
    CHECK(p.drain().empty());  // "ta" is an unknown field: the partial "da" was dropped
    p.feed("data: z\n\n");
    const auto events = p.drain();
    REQUIRE(events.size() == 1);
    CHECK(events[0] == parsed_event{"5", "message", "z"});
    CHECK(p.retry() == 10L);
}
