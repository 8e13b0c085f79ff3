#include "api.hpp"

#include <ssehub/http.hpp>
#include <ssehub/kill_polling.hpp>
#include <ssehub/topic.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

namespace ssehubd::api {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_text = 1024;        // id, type, action, coalesce key, tenant...
constexpr std::int64_t max_ms = 7LL * 24 * 3600 * 1000;

// Deepest nesting of arrays/objects, scanned before parsing so that a body of
// 60,000 '[' cannot make the parser or a later dump() recurse that deep.
std::size_t nesting_depth(std::string_view s) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : s) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
        else if ((c == ']' || c == '}') && depth > 0) --depth;
    }
    return deepest;
}

result<json> parse_object(std::string_view body, const limits& lim) {
    if (body.empty()) return error{400, "", "body: expected a JSON object, got an empty body"};
    if (nesting_depth(body) > lim.max_depth)
        return error{400, "", "body: JSON nested deeper than " + std::to_string(lim.max_depth) + " levels"};
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return error{400, "", "body: malformed JSON"};
    if (!j.is_object()) return error{400, "", "body: expected a JSON object"};
    return j;
}

bool has_line_break(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; }

// Reads the members of one JSON object, remembering the first problem and
// which members were looked at (the rest are unknown).
class reader {
public:
    reader(const json& obj, std::string prefix = "") : obj_(obj), prefix_(std::move(prefix)) {}

    bool ok() const { return !err_; }
    error take() { return err_ ? std::move(*err_) : error{}; }
    void fail(const std::string& field, const std::string& msg) {
        if (!err_) err_ = error{400, field, field + ": " + msg};
    }
    std::string name(std::string_view key) const { return prefix_ + std::string(key); }

    const json* find(std::string_view key) {
        known_.emplace_back(key);
        const auto it = obj_.find(std::string(key));
        return it == obj_.end() ? nullptr : &*it;
    }

    std::optional<std::string> text(std::string_view key, bool required, bool single_line = true,
                                    bool non_empty = false) {
        const json* v = find(key);
        if (!v) {
            if (required) fail(name(key), "required");
            return std::nullopt;
        }
        if (!v->is_string()) {
            fail(name(key), "expected a string");
            return std::nullopt;
        }
        const auto& s = v->get_ref<const std::string&>();
        if (s.size() > max_text) fail(name(key), "longer than " + std::to_string(max_text) + " bytes");
        else if (single_line && has_line_break(s)) fail(name(key), "must not contain CR, LF or NUL");
        else if (non_empty && s.empty()) fail(name(key), "must not be empty");
        if (!ok()) return std::nullopt;
        return s;
    }

    std::optional<std::string> subject(std::string_view key, std::size_t max_len) {
        auto s = text(key, true, true, true);
        if (s && !ssehub::topic::is_valid_subject(*s, max_len)) {
            fail(name(key), "not a valid topic (tokens separated by '.', no wildcards, no whitespace, at most " +
                                std::to_string(max_len) + " bytes)");
            return std::nullopt;
        }
        return s;
    }

    std::optional<std::int64_t> integer(std::string_view key, bool required, std::int64_t lo, std::int64_t hi) {
        const json* v = find(key);
        if (!v) {
            if (required) fail(name(key), "required");
            return std::nullopt;
        }
        std::int64_t n = 0;
        if (v->is_number_integer() && !v->is_number_unsigned()) n = v->get<std::int64_t>();
        else if (v->is_number_unsigned() && v->get<std::uint64_t>() <= std::uint64_t(std::numeric_limits<std::int64_t>::max()))
            n = static_cast<std::int64_t>(v->get<std::uint64_t>());
        else {
            fail(name(key), "expected an integer");
            return std::nullopt;
        }
        if (n < lo || n > hi) {
            fail(name(key), "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
            return std::nullopt;
        }
        return n;
    }

    std::optional<bool> boolean(std::string_view key, bool required) {
        const json* v = find(key);
        if (!v) {
            if (required) fail(name(key), "required");
            return std::nullopt;
        }
        if (!v->is_boolean()) {
            fail(name(key), "expected true or false");
            return std::nullopt;
        }
        return v->get<bool>();
    }

    // {"k":"v",...}: string values only.
    std::optional<ssehub::metadata> string_map(std::string_view key) {
        const json* v = find(key);
        if (!v) return std::nullopt;
        if (!v->is_object()) {
            fail(name(key), "expected an object of strings");
            return std::nullopt;
        }
        ssehub::metadata out;
        for (const auto& [k, val] : v->items()) {
            const std::string field = name(key) + "." + k;
            if (k.empty() || k.size() > max_text) fail(name(key), "keys must be 1.." + std::to_string(max_text) + " bytes");
            else if (!val.is_string()) fail(field, "expected a string");
            else if (val.get_ref<const std::string&>().size() > max_text)
                fail(field, "longer than " + std::to_string(max_text) + " bytes");
            if (!ok()) return std::nullopt;
            out.emplace(k, val.get<std::string>());
        }
        return out;
    }

    ssehub::hint hint(std::string_view key) {
        ssehub::hint h;
        const json* v = find(key);
        if (!v) return h;
        if (!v->is_object()) {
            fail(name(key), "expected an object");
            return h;
        }
        for (const auto& [k, val] : v->items()) {
            switch (val.type()) {
            case json::value_t::null: h.emplace_back(k, nullptr); break;
            case json::value_t::boolean: h.emplace_back(k, val.get<bool>()); break;
            case json::value_t::number_integer: h.emplace_back(k, val.get<std::int64_t>()); break;
            case json::value_t::number_unsigned: h.emplace_back(k, val.get<std::uint64_t>()); break;
            case json::value_t::number_float: h.emplace_back(k, val.get<double>()); break;
            case json::value_t::string: h.emplace_back(k, val.get<std::string>()); break;
            default: h.emplace_back(k, ssehub::hint_value::json(val.dump())); break;
            }
        }
        return h;
    }

    void reject_unknown() {
        if (!ok()) return;
        for (const auto& [k, v] : obj_.items()) {
            if (std::find(known_.begin(), known_.end(), k) == known_.end()) {
                fail(name(k), "unknown field");
                return;
            }
        }
    }

private:
    const json& obj_;
    std::string prefix_;
    std::vector<std::string> known_;
    std::optional<error> err_;
};

ssehub::domain_event_spec parse_spec(const json& item, const std::string& prefix, reader& outer,
                                     const limits& lim) {
    ssehub::domain_event_spec spec;
    if (!item.is_object()) {
        outer.fail(prefix.substr(0, prefix.size() - 1), "expected an object");
        return spec;
    }
    reader r(item, prefix);
    auto resource = r.subject("resource", lim.max_topic_length);
    auto action = r.text("action", true, true, true);
    auto id = r.text("resource_id", false);
    spec.hint = r.hint("hint");
    r.reject_unknown();
    if (!r.ok()) {
        auto e = r.take();
        outer.fail(e.field, e.message.substr(e.field.size() + 2));
        return spec;
    }
    spec.resource = std::move(*resource);
    spec.action = std::move(*action);
    spec.resource_id = id.value_or("");
    return spec;
}

}  // namespace

namespace {

// One publish object, its fields named with r's prefix ("[3].topics[1]" in a batch).
result<ssehub::event> publish_event(const json& obj, const limits& lim, std::string prefix) {
    if (!obj.is_object()) return error{400, prefix.substr(0, prefix.size() - 1), prefix.substr(0, prefix.size() - 1) + ": expected an object"};
    reader r(obj, std::move(prefix));
    ssehub::event ev;

    if (const json* t = r.find("topics")) {
        if (!t->is_array()) r.fail(r.name("topics"), "expected an array of strings");
        for (std::size_t i = 0; r.ok() && t->is_array() && i < t->size(); ++i) {
            const auto field = r.name("topics[" + std::to_string(i) + "]");
            const json& item = (*t)[i];
            if (!item.is_string()) r.fail(field, "expected a string");
            else if (!ssehub::topic::is_valid_subject(item.get_ref<const std::string&>(), lim.max_topic_length))
                r.fail(field, "not a valid topic (tokens separated by '.', no wildcards, no whitespace, at most " +
                                  std::to_string(lim.max_topic_length) + " bytes)");
            else ev.topics.push_back(item.get<std::string>());
        }
    }
    if (auto type = r.text("type", false)) ev.type = std::move(*type);
    if (auto id = r.text("id", false)) ev.id = std::move(*id);
    if (const json* d = r.find("data")) ev.data = d->is_string() ? d->get<std::string>() : d->dump();
    if (const json* p = r.find("priority")) {
        const std::string s = p->is_string() ? p->get<std::string>() : std::string();
        if (s == "instant") ev.lane = ssehub::priority::instant;
        else if (s == "batched") ev.lane = ssehub::priority::batched;
        else if (s == "coalesced") ev.lane = ssehub::priority::coalesced;
        else r.fail(r.name("priority"), "expected \"instant\", \"batched\" or \"coalesced\"");
    }
    if (auto key = r.text("coalesce_key", false)) ev.coalesce_key = std::move(*key);
    if (auto ttl = r.integer("ttl_ms", false, 0, max_ms)) ev.ttl = std::chrono::milliseconds(*ttl);
    if (auto retry = r.integer("retry_ms", false, 0, max_ms)) ev.retry = std::chrono::milliseconds(*retry);
    if (auto group = r.string_map("group")) ev.group = std::move(*group);
    r.reject_unknown();
    if (r.ok() && ev.topics.empty() && ev.group.empty()) r.fail(r.name("topics"), "at least one topic (or a group) is required");
    if (!r.ok()) return r.take();
    return ev;
}

}  // namespace

result<ssehub::event> parse_publish(std::string_view body, const limits& lim) {
    auto parsed = parse_object(body, lim);
    if (auto* e = std::get_if<error>(&parsed)) return std::move(*e);
    return publish_event(std::get<json>(parsed), lim, "");
}

bool is_publish_batch(std::string_view body) {
    const auto at = body.find_first_not_of(" \t\r\n");
    return at != std::string_view::npos && body[at] == '[';
}

result<std::vector<ssehub::event>> parse_publish_batch(std::string_view body, const limits& lim, std::size_t max_events) {
    if (nesting_depth(body) > lim.max_depth)
        return error{400, "", "body: JSON nested deeper than " + std::to_string(lim.max_depth) + " levels"};
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return error{400, "", "body: malformed JSON"};
    if (!j.is_array()) return error{400, "", "body: expected a JSON array of events"};
    if (j.empty()) return error{400, "", "body: an empty batch (at least one event)"};
    if (j.size() > max_events)
        return error{413, "", "body: more than " + std::to_string(max_events) + " events in one batch (--max-batch-events)"};
    std::vector<ssehub::event> out;
    out.reserve(j.size());
    for (std::size_t i = 0; i < j.size(); ++i) {
        auto ev = publish_event(j[i], lim, "[" + std::to_string(i) + "].");
        if (auto* e = std::get_if<error>(&ev)) return std::move(*e);
        out.push_back(std::move(std::get<ssehub::event>(ev)));
    }
    return out;
}

bool is_kill_polling_kind(std::string_view kind) {
    return kind == "invalidate" || kind == "signal" || kind == "progress" || kind == "complete" || kind == "batch";
}

result<std::optional<ssehub::event>> parse_kill_polling(std::string_view kind, std::string_view body,
                                                        const limits& lim) {
    namespace kp = ssehub::kill_polling;
    auto parsed = parse_object(body, lim);
    if (auto* e = std::get_if<error>(&parsed)) return std::move(*e);
    const json& obj = std::get<json>(parsed);
    reader r(obj);
    std::optional<ssehub::event> ev;
    const auto tenant = r.text("tenant", false);

    if (kind == "invalidate") {
        auto resource = r.subject("resource", lim.max_topic_length);
        auto action = r.text("action", true, true, true);
        auto id = r.text("resource_id", false);
        auto h = r.hint("hint");
        r.reject_unknown();
        if (!r.ok()) return r.take();
        ev = tenant ? kp::invalidate_for_tenant_event(*tenant, *resource, id.value_or(""), *action, h)
                    : kp::invalidate_event(*resource, id.value_or(""), *action, h);
    } else if (kind == "signal") {
        auto topic = r.subject("topic", lim.max_topic_length);
        auto ttl = r.integer("ttl_ms", false, 0, max_ms);
        r.reject_unknown();
        if (!r.ok()) return r.take();
        const std::chrono::milliseconds t(ttl.value_or(0));
        if (tenant) {
            ev = kp::signal_for_tenant_event(*tenant, *topic);
            ev->ttl = t;
        } else {
            ev = kp::signal_event(*topic, t);
        }
    } else if (kind == "progress") {
        auto resource = r.subject("resource", lim.max_topic_length);
        auto id = r.text("resource_id", true);
        auto current = r.integer("current", true, std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max());
        auto total = r.integer("total", true, std::numeric_limits<std::int64_t>::min(),
                               std::numeric_limits<std::int64_t>::max());
        auto h = r.hint("hint");
        r.reject_unknown();
        if (!r.ok()) return r.take();
        ev = kp::progress_event(*resource, *id, tenant.value_or(""), *current, *total, h);
    } else if (kind == "complete") {
        auto resource = r.subject("resource", lim.max_topic_length);
        auto id = r.text("resource_id", true);
        auto success = r.boolean("success", true);
        auto h = r.hint("hint");
        r.reject_unknown();
        if (!r.ok()) return r.take();
        ev = kp::complete_event(*resource, *id, tenant.value_or(""), *success, h);
    } else if (kind == "batch") {
        std::vector<ssehub::domain_event_spec> specs;
        const json* list = r.find("events");
        if (!list) r.fail("events", "required");
        else if (!list->is_array()) r.fail("events", "expected an array of objects");
        for (std::size_t i = 0; r.ok() && list && list->is_array() && i < list->size(); ++i)
            specs.push_back(parse_spec((*list)[i], "events[" + std::to_string(i) + "].", r, lim));
        r.reject_unknown();
        if (!r.ok()) return r.take();
        ev = kp::batch_event(tenant.value_or(""), specs);
    } else {
        return error{404, "", "no such route"};
    }
    return ev;
}

result<ticket_request> parse_ticket_request(std::string_view body, const limits& lim) {
    auto parsed = parse_object(body, lim);
    if (auto* e = std::get_if<error>(&parsed)) return std::move(*e);
    const json& obj = std::get<json>(parsed);
    reader r(obj);
    ticket_request t;
    const json* topics = r.find("topics");
    if (!topics) r.fail("topics", "required");
    else if (!topics->is_array() || topics->empty()) r.fail("topics", "expected a non-empty array of topic patterns");
    else if (topics->size() > lim.max_topics) r.fail("topics", "more than " + std::to_string(lim.max_topics) + " topics");
    for (std::size_t i = 0; r.ok() && topics && i < topics->size(); ++i) {
        const auto field = "topics[" + std::to_string(i) + "]";
        const json& item = (*topics)[i];
        if (!item.is_string()) r.fail(field, "expected a string");
        else if (!ssehub::topic::is_valid_pattern(item.get_ref<const std::string&>(), lim.max_topic_length))
            r.fail(field, "not a valid topic pattern");
        else t.topics.push_back(item.get<std::string>());
    }
    if (auto m = r.string_map("metadata")) t.metadata = std::move(*m);
    if (auto ttl = r.integer("ttl_ms", false, 1, 3600 * 1000)) t.ttl = std::chrono::milliseconds(*ttl);
    r.reject_unknown();
    if (!r.ok()) return r.take();
    return t;
}

bool valid_owner(std::string_view o) {
    if (o.size() < 16 || o.size() > 128) return false;
    return std::all_of(o.begin(), o.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

result<visibility_request> parse_visibility(std::string_view body, std::string_view content_type) {
    visibility_request v;
    std::string ct(content_type.substr(0, content_type.find(';')));
    std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (!ct.empty() && ct.back() == ' ') ct.pop_back();
    if (ct == "application/x-www-form-urlencoded") {
        std::optional<std::string> id, hidden;
        for (auto& [k, val] : ssehub::http::parse_query(body)) {
            if (k == "connection_id") id = val;
            else if (k == "owner") v.owner = val;
            else if (k == "paused" || k == "hidden") hidden = val;
        }
        if (!id || id->empty()) return error{400, "connection_id", "connection_id: required"};
        if (!hidden) return error{400, "hidden", "hidden: required (paused=1|0 or hidden=1|0)"};
        if (*hidden == "1" || *hidden == "true") v.hidden = true;
        else if (*hidden == "0" || *hidden == "false") v.hidden = false;
        else return error{400, "hidden", "hidden: expected 1 or 0"};
        v.connection_id = std::move(*id);
        return v;
    }
    auto parsed = parse_object(body, limits{});
    if (auto* e = std::get_if<error>(&parsed)) return std::move(*e);
    const json& obj = std::get<json>(parsed);
    reader r(obj);
    auto id = r.text("connection_id", true, true, true);
    auto hidden = r.boolean("hidden", true);
    auto owner = r.text("owner", false);
    r.reject_unknown();
    if (!r.ok()) return r.take();
    v.connection_id = std::move(*id);
    v.hidden = *hidden;
    v.owner = owner.value_or("");
    return v;
}

std::string error_body(const error& e) {
    json j;
    j["error"] = e.message;
    if (!e.field.empty()) j["field"] = e.field;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace ssehubd::api
