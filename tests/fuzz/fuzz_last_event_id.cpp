// fuzz_last_event_id: the Last-Event-ID path and the SSE encoder's round trip.
//  - an id sent as `?lastEventId=<percent-encoded>` comes back exactly from
//    request_parser + query_param; sent as a `Last-Event-ID:` header, it comes
//    back trimmed of SP/HTAB when the head parses (and a plain visible-ASCII
//    id always parses); wire::validate_id rejects it iff it holds CR, LF or NUL;
//  - wire::encode(id, type, data, retry) fails iff id or type holds CR, LF or
//    NUL (or retry < 0), else appends exactly encoded_size() bytes that a
//    conforming parser (sse_parser), fed whole or byte by byte, decodes to
//    exactly one event: same id, type (or "message"), data with CRLF/CR -> LF,
//    same retry; make_frame gives the same bytes; comment() and retry_field()
//    never dispatch an event.
// Input: byte 0 id length, byte 1 type length, byte 2 retry selector, then
// id, type, data.
#include "ssehub/event.hpp"
#include "ssehub/http.hpp"
#include "ssehub/sse_parser.hpp"
#include "ssehub/wire.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

namespace {

namespace http = ssehub::http;
namespace wire = ssehub::wire;

bool has_crlfnul(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; }

std::string pct(std::string_view in) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : in) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

http::request_parser::result parse(const std::string& head, http::request_parser& p) {
    std::size_t c = 0;
    return p.feed(head, c);
}

void check_last_event_id(std::string_view id) {
    FUZZ_CHECK(static_cast<bool>(wire::validate_id(id)) == has_crlfnul(id));
    {
        http::request_parser p;
        const std::string head = "GET /events?topics=a&lastEventId=" + pct(id) + " HTTP/1.1\r\nHost: h\r\n\r\n";
        FUZZ_CHECK(parse(head, p) == http::request_parser::result::done);
        const auto got = p.get().query_param("lastEventId");
        FUZZ_CHECK(got.has_value() && *got == id);
    }
    if (id.find_first_of("\r\n") == std::string_view::npos) {  // CR/LF would end the header: a client bug, not ours
        http::request_parser p;
        const std::string head = "GET /events HTTP/1.1\r\nHost: h\r\nLast-Event-ID: " + std::string(id) + "\r\n\r\n";
        const auto r = parse(head, p);
        bool plain = true;
        for (const unsigned char c : id) plain = plain && c >= 0x20 && c < 0x7f;
        if (plain) FUZZ_CHECK(r == http::request_parser::result::done);
        if (r == http::request_parser::result::done) {
            const std::string* h = p.get().find("last-event-id");
            FUZZ_CHECK(h != nullptr && *h == trim(id));
        }
    }
}

void decode_one(const std::string& wire_text, std::string_view id, std::string_view type, std::string_view data,
                std::optional<long> retry) {
    ssehub::sse_parser whole;
    whole.feed(wire_text);
    const auto evs = whole.drain();
    FUZZ_CHECK(!whole.failed());
    FUZZ_CHECK(evs.size() == 1);
    FUZZ_CHECK(evs[0].id == id);
    FUZZ_CHECK(evs[0].type == (type.empty() ? std::string_view("message") : type));
    FUZZ_CHECK(evs[0].data == fuzz::normalise_line_ends(data));
    FUZZ_CHECK(whole.last_event_id() == id);
    FUZZ_CHECK(whole.retry() == retry);
    FUZZ_CHECK(whole.comment_count() == 0);

    ssehub::sse_parser bytewise;
    std::size_t n = 0;
    for (const char c : wire_text) {
        bytewise.feed(std::string_view(&c, 1), [&](const ssehub::parsed_event& ev) {
            ++n;
            FUZZ_CHECK(ev == evs[0]);
        });
    }
    FUZZ_CHECK(n == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size < 3) return 0;
    const std::string_view in(reinterpret_cast<const char*>(bytes) + 3, size - 3);
    const std::size_t id_len = std::min<std::size_t>(bytes[0] % 64, in.size());
    const std::size_t type_len = std::min<std::size_t>(bytes[1] % 32, in.size() - id_len);
    const std::string_view id = in.substr(0, id_len);
    const std::string_view type = in.substr(id_len, type_len);
    const std::string_view data = in.substr(id_len + type_len);
    std::optional<std::chrono::milliseconds> retry;
    if (bytes[2] >= 128) retry = std::chrono::milliseconds((bytes[2] & 0x7f) * 997 - 1);  // -1 included

    check_last_event_id(id);

    std::string out = "prefix";
    const auto ec = wire::encode(id, type, data, retry, out);
    const bool bad = has_crlfnul(id) || has_crlfnul(type) || (retry && retry->count() < 0);
    FUZZ_CHECK(static_cast<bool>(ec) == bad);
    FUZZ_CHECK(static_cast<bool>(wire::validate_type(type)) == has_crlfnul(type));
    ssehub::event ev;
    ev.type = std::string(type);
    ev.data = std::string(data);
    ev.retry = retry;
    ssehub::frame f;
    const auto fec = wire::make_frame(ev, id, f);
    FUZZ_CHECK(static_cast<bool>(fec) == bad);
    if (bad) {
        FUZZ_CHECK(out == "prefix");
        FUZZ_CHECK(f == nullptr);
    } else {
        FUZZ_CHECK(out.size() == 6 + wire::encoded_size(id, type, data, retry));
        const std::string text = out.substr(6);
        FUZZ_CHECK(f != nullptr && *f == text);
        decode_one(text, id, type, data, retry ? std::optional<long>(retry->count()) : std::nullopt);
    }

    // Comments and retry fields never dispatch, and cannot forge a field.
    ssehub::sse_parser cp({.keep_comments = true});
    cp.feed(wire::comment(data));
    cp.feed(wire::retry_field(std::chrono::milliseconds(bytes[2] * 1000 - 5000)));
    FUZZ_CHECK(cp.drain().empty());
    FUZZ_CHECK(cp.event_count() == 0);
    FUZZ_CHECK(cp.last_event_id().empty());
    std::string joined;
    for (std::size_t i = 0; i < cp.comments().size(); ++i) joined += (i ? "\n" : "") + cp.comments()[i];
    FUZZ_CHECK(joined == fuzz::normalise_line_ends(data));
    FUZZ_CHECK(cp.retry() == std::optional<long>(std::max(0, bytes[2] * 1000 - 5000)));
    return 0;
}
