#include "ssehub/event_codec.hpp"

#include "ssehub/json_value.hpp"

namespace ssehub {

std::int64_t unix_ms() noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::optional<replayed_event> replay_entry(std::string_view json, std::string_view entry_id, std::int64_t now_ms,
                                           const std::vector<std::string>& patterns, const metadata& conn_meta,
                                           const std::function<void(event&)>& transform) {
    auto d = decode_event(json, now_ms);
    if (!d || d->expired) return std::nullopt;
    if (transform) transform(d->ev);
    const event& ev = d->ev;
    if (!replay_matches(ev.topics, ev.group, patterns, conn_meta)) return std::nullopt;
    replayed_event out;
    out.id = ev.id.empty() ? std::string(entry_id) : ev.id;  // a caller's id, as delivered live
    if (wire::make_frame(ev, out.id, out.bytes)) return std::nullopt;
    return out;
}

std::string encode_event(const event& ev, std::int64_t now_ms) {
    json::object o;
    json::array topics;
    for (const auto& t : ev.topics) topics.emplace_back(t);
    o.emplace_back("t", std::move(topics));
    if (!ev.id.empty()) o.emplace_back("i", ev.id);  // a caller's id (an engine's own ids travel beside the JSON)
    if (!ev.type.empty()) o.emplace_back("y", ev.type);
    o.emplace_back("d", ev.data);
    if (!ev.group.empty()) {
        json::object g;
        for (const auto& [k, v] : ev.group) g.emplace_back(k, v);
        o.emplace_back("g", std::move(g));
    }
    if (ev.lane == priority::batched) o.emplace_back("l", "b");
    if (ev.lane == priority::coalesced) o.emplace_back("l", "c");
    if (!ev.coalesce_key.empty()) o.emplace_back("k", ev.coalesce_key);
    if (ev.ttl.count() > 0) o.emplace_back("x", now_ms + static_cast<std::int64_t>(ev.ttl.count()));
    if (ev.retry) o.emplace_back("r", static_cast<std::int64_t>(ev.retry->count()));
    return json::serialize(json::value(std::move(o)));
}

std::optional<decoded_event> decode_event(std::string_view text, std::int64_t now_ms) {
    auto v = json::parse(text);
    if (!v || !v->is_object()) return std::nullopt;
    decoded_event out;
    event& ev = out.ev;
    for (const auto& [name, m] : v->as_object()) {
        if (name == "t" && m.is_array()) {
            for (const auto& t : m.as_array()) {
                if (!t.is_string()) return std::nullopt;
                ev.topics.push_back(t.as_string());
            }
        } else if (name == "i" && m.is_string()) {
            ev.id = m.as_string();
        } else if (name == "y" && m.is_string()) {
            ev.type = m.as_string();
        } else if (name == "d" && m.is_string()) {
            ev.data = m.as_string();
        } else if (name == "g" && m.is_object()) {
            for (const auto& [k, gv] : m.as_object()) {
                if (!gv.is_string()) return std::nullopt;
                ev.group.emplace(k, gv.as_string());
            }
        } else if (name == "l" && m.is_string()) {
            ev.lane = m.as_string() == "b" ? priority::batched : m.as_string() == "c" ? priority::coalesced : priority::instant;
        } else if (name == "k" && m.is_string()) {
            ev.coalesce_key = m.as_string();
        } else if (name == "x" && m.is_integer()) {
            out.expires_ms = *m.as_int64();
        } else if (name == "r" && m.is_integer()) {
            ev.retry = std::chrono::milliseconds(*m.as_int64());
        } else {
            return std::nullopt;  // a member of the wrong kind, or one this version does not know
        }
    }
    if (out.expires_ms != 0) {
        if (out.expires_ms <= now_ms) out.expired = true;
        else ev.ttl = std::chrono::milliseconds(out.expires_ms - now_ms);
    }
    return out;
}

}  // namespace ssehub
