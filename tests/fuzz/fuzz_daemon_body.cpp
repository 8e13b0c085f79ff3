// fuzz_daemon_body: the JSON (and form) bodies of ssehubd's POST routes as
// the daemon parses them (examples/ssehubd/api.cpp, nlohmann_json): /publish,
// /publish/<kind> (invalidate, signal, progress, complete, batch, and an
// unknown kind), /publish with a JSON array (a batch), /tickets, /events/visibility (JSON and form). Invariants:
//  - no exception escapes, the same body gives the same answer twice;
//  - a refusal is 400 (404 only for an unknown kind) with a message that
//    starts with its field ("field: ..."), and error_body() is valid JSON
//    with that message;
//  - an accepted publish names at least one topic or group, every topic is
//    a valid subject within the limit, ttl/retry are in 0..7 days, and the
//    event encodes (make_frame succeeds with its id): nothing a client sends
//    can forge an SSE field;
//  - a kill-polling event's data is valid JSON (the project's strict parser)
//    and its topics are valid subjects;
//  - a ticket request has 1..max_topics valid patterns and a ttl in 1 ms..1 h;
//  - a visibility request has a non-empty connection id;
//  - the admin routes: a presence query (the rest as the query string of
//    GET /presence or /connections) has a valid topic pattern or none, and
//    none only where that is allowed; a disconnect (POST /connections/disconnect)
//    names someone: a valid topic pattern or metadata, never everyone.
// Input: byte 0 picks the route and the limits; the rest is the body.
#include "api.hpp"

#include "ssehub/event.hpp"
#include "ssehub/http.hpp"
#include "ssehub/presence.hpp"
#include "ssehub/json.hpp"
#include "ssehub/json_value.hpp"
#include "ssehub/topic.hpp"
#include "ssehub/wire.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_support.hpp"

namespace {

namespace api = ssehubd::api;
constexpr std::int64_t max_ms = 7LL * 24 * 3600 * 1000;

void check_error(const api::error& e, bool may_404) {
    FUZZ_CHECK(e.status == 400 || (may_404 && e.status == 404));
    FUZZ_CHECK(!e.message.empty());
    if (!e.field.empty()) FUZZ_CHECK(e.message.rfind(e.field + ": ", 0) == 0);
    const auto j = nlohmann::json::parse(api::error_body(e), nullptr, false);
    FUZZ_CHECK(!j.is_discarded() && j.is_object() && j.contains("error"));
    FUZZ_CHECK(j["error"].is_string());
}

void check_event(const ssehub::event& ev, const api::limits& lim) {
    for (const auto& t : ev.topics) FUZZ_CHECK(ssehub::topic::is_valid_subject(t, lim.max_topic_length));
    FUZZ_CHECK(ev.ttl.count() >= 0 && ev.ttl.count() <= max_ms);
    if (ev.retry) FUZZ_CHECK(ev.retry->count() >= 0 && ev.retry->count() <= max_ms);
    ssehub::frame f;
    FUZZ_CHECK(!ssehub::wire::make_frame(ev, ev.id, f));
}

bool same(const ssehub::event& a, const ssehub::event& b) {
    return a.id == b.id && a.type == b.type && a.data == b.data && a.topics == b.topics && a.group == b.group &&
           a.lane == b.lane && a.coalesce_key == b.coalesce_key && a.ttl == b.ttl && a.retry == b.retry;
}

void publish(std::string_view body, const api::limits& lim) {
    const auto r = api::parse_publish(body, lim);
    const auto again = api::parse_publish(body, lim);
    FUZZ_CHECK(r.index() == again.index());
    if (const auto* e = std::get_if<api::error>(&r)) {
        check_error(*e, false);
        FUZZ_CHECK(std::get<api::error>(again).message == e->message);
        return;
    }
    const auto& ev = std::get<ssehub::event>(r);
    FUZZ_CHECK(same(ev, std::get<ssehub::event>(again)));
    FUZZ_CHECK(!ev.topics.empty() || !ev.group.empty());
    check_event(ev, lim);
}

// A JSON array: a batch of at most 4 events, each as checked above; 413 past 4.
void publish_batch(std::string_view body, const api::limits& lim) {
    const auto r = api::parse_publish_batch(body, lim, 4);
    if (const auto* e = std::get_if<api::error>(&r)) {
        if (e->status == 413) FUZZ_CHECK(e->field.empty());
        else check_error(*e, false);
        return;
    }
    const auto& events = std::get<std::vector<ssehub::event>>(r);
    FUZZ_CHECK(!events.empty() && events.size() <= 4);
    for (const auto& ev : events) {
        FUZZ_CHECK(!ev.topics.empty() || !ev.group.empty());
        check_event(ev, lim);
    }
}

void kill_polling(std::string_view kind, std::string_view body, const api::limits& lim) {
    const auto r = api::parse_kill_polling(kind, body, lim);
    if (const auto* e = std::get_if<api::error>(&r)) {
        check_error(*e, !api::is_kill_polling_kind(kind));
        return;
    }
    FUZZ_CHECK(api::is_kill_polling_kind(kind));
    const auto& ev = std::get<std::optional<ssehub::event>>(r);
    if (!ev) {
        FUZZ_CHECK(kind == "batch");
        return;
    }
    FUZZ_CHECK(!ev->topics.empty() || !ev->group.empty());
    check_event(*ev, lim);
    ssehub::json::value parsed;
    std::string err;
    ssehub::json::parse_options o;
    o.allow_duplicate_names = true;  // hint keys come from the client; duplicates are its business
    if (!ssehub::json::parse(ev->data, parsed, &err, o)) {
        std::fprintf(stderr, "kill-polling data is not JSON (%s): %s\n", err.c_str(), ev->data.c_str());
        FUZZ_CHECK(false);
    }
}

void tickets(std::string_view body, const api::limits& lim) {
    const auto r = api::parse_ticket_request(body, lim);
    if (const auto* e = std::get_if<api::error>(&r)) {
        check_error(*e, false);
        return;
    }
    const auto& t = std::get<api::ticket_request>(r);
    FUZZ_CHECK(!t.topics.empty() && t.topics.size() <= lim.max_topics);
    for (const auto& p : t.topics) FUZZ_CHECK(ssehub::topic::is_valid_pattern(p, lim.max_topic_length));
    if (t.ttl) FUZZ_CHECK(t.ttl->count() >= 1 && t.ttl->count() <= 3600 * 1000);
}

void visibility(std::string_view body, std::string_view content_type) {
    const auto r = api::parse_visibility(body, content_type);
    if (const auto* e = std::get_if<api::error>(&r)) {
        check_error(*e, false);
        return;
    }
    FUZZ_CHECK(!std::get<api::visibility_request>(r).connection_id.empty());
}

void presence_query(std::string_view query, const api::limits& lim, bool topic_required) {
    ssehub::http::request req;
    req.method = "GET";
    req.target = "/presence?" + std::string(query);
    const auto r = api::parse_presence_query(req, lim, topic_required);
    if (const auto* e = std::get_if<api::error>(&r)) {
        check_error(*e, false);
        return;
    }
    const auto& q = std::get<ssehub::presence_query>(r);
    if (q.filter.topic.empty()) FUZZ_CHECK(!topic_required);
    else FUZZ_CHECK(ssehub::topic::is_valid_pattern(q.filter.topic, lim.max_topic_length));
    FUZZ_CHECK(q.offset <= 999999999 && q.limit <= 999999999);
}

void disconnect(std::string_view body, const api::limits& lim) {
    const auto r = api::parse_disconnect(body, lim);
    if (const auto* e = std::get_if<api::error>(&r)) {
        check_error(*e, false);
        return;
    }
    const auto& d = std::get<api::disconnect_request>(r);
    FUZZ_CHECK(!d.filter.topic.empty() || !d.filter.match.empty());
    if (!d.filter.topic.empty()) FUZZ_CHECK(ssehub::topic::is_valid_pattern(d.filter.topic, lim.max_topic_length));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    api::limits lim;
    if (data[0] & 0x80) {  // small limits reach the limit checks
        lim.max_topic_length = 8;
        lim.max_topics = 2;
        lim.max_depth = 3;
    }
    static constexpr std::array<std::string_view, 6> kinds{"invalidate", "signal", "progress", "complete", "batch",
                                                           "unknown"};
    const unsigned route = (data[0] & 0x7f) % 12;
    switch (route) {
    case 0: api::is_publish_batch(body) ? publish_batch(body, lim) : publish(body, lim); break;
    case 1: case 2: case 3: case 4: case 5: case 6: kill_polling(kinds[route - 1], body, lim); break;
    case 7: tickets(body, lim); break;
    case 8: visibility(body, "application/json"); break;
    case 9: visibility(body, "application/x-www-form-urlencoded; charset=UTF-8"); break;
    case 10: presence_query(body, lim, (data[0] & 0x40) != 0); break;
    default: disconnect(body, lim); break;
    }
    return 0;
}
