// Kill-polling payloads and the events that carry them (no hub here: the
// functions that publish them are in kill_polling_publish.cpp).
#include "ssehub/kill_polling.hpp"

#include "ssehub/json.hpp"
#include "ssehub/json_value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace ssehub {
namespace {

// ---- hint_value::json ----
// Validation is json::parse's (the project's strict RFC 8259 parser, depth
// 64); the text is then kept as written, minus the whitespace between tokens,
// so the payload stays on one SSE data line.
bool valid_json(std::string_view text) noexcept {
    json::parse_options o;
    o.allow_duplicate_names = true;
    json::value ignored;
    try {
        return json::parse(text, ignored, nullptr, o);
    } catch (...) {
        return false;
    }
}

std::string without_whitespace(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            out.push_back(c);
            if (c == '\\') out.push_back(text[++i]);  // valid JSON: an escape is never last
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
            out.push_back(c);
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            out.push_back(c);
        }
    }
    return out;
}

template <class T>
void append_number(std::string& out, T v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// Appends `,"key":value` for each hint entry whose key is neither one of
// `fixed` (already written) nor seen earlier in the hint. Keys are compared
// as written (after escaping), so two keys that escape alike count as one.
void append_members(std::string& out, const hint& h, std::initializer_list<std::string_view> fixed,
                    bool leading_comma) {
    std::vector<std::string> written;
    written.reserve(fixed.size() + h.size());
    for (auto k : fixed) written.push_back(json::quote(k));
    bool comma = leading_comma;
    for (const auto& [key, value] : h) {
        std::string quoted = json::quote(key);
        if (std::find(written.begin(), written.end(), quoted) != written.end()) continue;
        if (comma) out += ',';
        comma = true;
        out += quoted;
        out += ':';
        value.append_to(out);
        written.push_back(std::move(quoted));
    }
}

void append_member(std::string& out, std::string_view key, std::string_view value) {
    json::append_string(out, key);
    out += ':';
    json::append_string(out, value);
}

void append_invalidate(std::string& out, std::string_view resource, std::string_view resource_id,
                       std::string_view action, const hint& h) {
    out += '{';
    append_member(out, "resource", resource);
    out += ',';
    append_member(out, "action", action);
    if (!resource_id.empty()) {
        out += ',';
        append_member(out, "resource_id", resource_id);
    }
    if (!h.empty()) {
        out += ",\"hint\":{";
        append_members(out, h, {}, false);
        out += '}';
    }
    out += '}';
}

// kind:"part1":"part2"... (JSON quoting keeps the parts apart whatever they hold)
std::string coalesce_key(std::string_view kind, std::initializer_list<std::string_view> parts) {
    std::string key(kind);
    for (auto p : parts) {
        key += ':';
        json::append_string(key, p);
    }
    return key;
}

metadata tenant_group(std::string_view tenant) {
    metadata g;
    g.emplace(std::string("tenant_id"), std::string(tenant));
    return g;
}

event make_event(std::string type, std::string data, std::string_view topic, priority lane) {
    event ev;
    ev.type = std::move(type);
    ev.data = std::move(data);
    ev.topics.emplace_back(topic);
    ev.lane = lane;
    return ev;
}

}  // namespace

// ---- hint_value ----

hint_value hint_value::json(std::string_view text) {
    if (!valid_json(text)) throw std::invalid_argument("ssehub: hint value is not valid JSON");
    return hint_value(raw_json{without_whitespace(text)});
}

void hint_value::append_to(std::string& out) const {
    struct visitor {
        std::string& out;
        void operator()(std::nullptr_t) const { out += "null"; }
        void operator()(bool b) const { out += b ? "true" : "false"; }
        void operator()(std::int64_t i) const { append_number(out, i); }
        void operator()(std::uint64_t u) const { append_number(out, u); }
        void operator()(double d) const {
            if (std::isfinite(d)) append_number(out, d);
            else out += "null";
        }
        void operator()(const std::string& s) const { ssehub::json::append_string(out, s); }
        void operator()(const raw_json& r) const { out += r.text; }
    };
    std::visit(visitor{out}, v_);
}

namespace kill_polling {

bool is_valid_json(std::string_view text) noexcept { return valid_json(text); }

// ---- payloads ----

std::string invalidate_payload(std::string_view resource, std::string_view resource_id, std::string_view action,
                               const hint& h) {
    std::string out;
    append_invalidate(out, resource, resource_id, action, h);
    return out;
}

std::string batch_payload(std::span<const domain_event_spec> specs) {
    std::string out = "[";
    for (std::size_t i = 0; i < specs.size(); ++i) {
        if (i) out += ',';
        append_invalidate(out, specs[i].resource, specs[i].resource_id, specs[i].action, specs[i].hint);
    }
    out += ']';
    return out;
}

std::string signal_payload() { return "{\"signal\":\"refresh\"}"; }

int progress_pct(std::int64_t current, std::int64_t total) noexcept {
    if (total <= 0 || current <= 0) return 0;
    if (current >= total) return 100;
    // 0 < current < total: the exact floor when 100 * current cannot overflow.
    if (current <= std::numeric_limits<std::int64_t>::max() / 100) return static_cast<int>(current * 100 / total);
    const auto pct = static_cast<int>(static_cast<long double>(current) * 100 / static_cast<long double>(total));
    return std::clamp(pct, 0, 99);
}

std::string progress_payload(std::string_view resource_id, std::int64_t current, std::int64_t total, const hint& h) {
    std::string out = "{";
    append_member(out, "resource_id", resource_id);
    out += ",\"current\":";
    append_number(out, current);
    out += ",\"total\":";
    append_number(out, total);
    out += ",\"pct\":";
    append_number(out, progress_pct(current, total));
    append_members(out, h, {"resource_id", "current", "total", "pct"}, true);
    out += '}';
    return out;
}

std::string complete_payload(std::string_view resource_id, bool success, const hint& h) {
    std::string out = "{";
    append_member(out, "resource_id", resource_id);
    out += ',';
    append_member(out, "status", success ? "completed" : "failed");
    append_members(out, h, {"resource_id", "status"}, true);
    out += '}';
    return out;
}

// ---- events ----

event invalidate_event(std::string_view resource, std::string_view resource_id, std::string_view action,
                       const hint& h) {
    return make_event("invalidate", invalidate_payload(resource, resource_id, action, h), resource,
                      priority::instant);
}

event invalidate_for_tenant_event(std::string_view tenant, std::string_view resource, std::string_view resource_id,
                                  std::string_view action, const hint& h) {
    event ev = invalidate_event(resource, resource_id, action, h);
    ev.group = tenant_group(tenant);
    return ev;
}

event domain_event(std::string_view resource, std::string_view action, std::string_view resource_id,
                   std::string_view tenant, const hint& h) {
    event ev = invalidate_event(resource, resource_id, action, h);
    if (!tenant.empty()) ev.group = tenant_group(tenant);
    return ev;
}

std::optional<event> batch_event(std::string_view tenant, std::span<const domain_event_spec> specs) {
    if (specs.empty()) return std::nullopt;
    event ev;
    ev.type = "batch";
    ev.data = batch_payload(specs);
    ev.lane = priority::instant;
    for (const auto& s : specs)
        if (std::find(ev.topics.begin(), ev.topics.end(), s.resource) == ev.topics.end())
            ev.topics.push_back(s.resource);
    if (!tenant.empty()) ev.group = tenant_group(tenant);
    return ev;
}

event signal_event(std::string_view topic, std::chrono::milliseconds ttl) {
    event ev = make_event("signal", signal_payload(), topic, priority::coalesced);
    ev.coalesce_key = coalesce_key("signal", {topic});
    ev.ttl = ttl;
    return ev;
}

event signal_for_tenant_event(std::string_view tenant, std::string_view topic) {
    event ev = make_event("signal", signal_payload(), topic, priority::coalesced);
    ev.coalesce_key = coalesce_key("signal", {topic, tenant});
    ev.group = tenant_group(tenant);
    return ev;
}

event progress_event(std::string_view resource, std::string_view resource_id, std::string_view tenant,
                     std::int64_t current, std::int64_t total, const hint& h) {
    event ev = make_event("progress", progress_payload(resource_id, current, total, h), resource,
                          priority::coalesced);
    if (tenant.empty()) {
        ev.coalesce_key = coalesce_key("progress", {resource, resource_id});
    } else {
        ev.coalesce_key = coalesce_key("progress", {resource, resource_id, tenant});
        ev.group = tenant_group(tenant);
    }
    return ev;
}

event complete_event(std::string_view resource, std::string_view resource_id, std::string_view tenant, bool success,
                     const hint& h) {
    event ev = make_event("complete", complete_payload(resource_id, success, h), resource, priority::instant);
    if (!tenant.empty()) ev.group = tenant_group(tenant);
    return ev;
}

}  // namespace kill_polling

}  // namespace ssehub
