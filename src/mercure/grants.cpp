#include "ssehub/mercure/grants.hpp"

#include "ssehub/json_value.hpp"

#include <algorithm>

namespace ssehub::mercure {
namespace {

bool malformed(std::string* why, std::string message) {
    if (why) *why = std::move(message);
    return false;
}

bool any_matches(const std::vector<selector>& sels, std::string_view topic) {
    return std::any_of(sels.begin(), sels.end(), [&](const selector& s) { return s.matches(topic); });
}

struct reader {
    const selector_limits& limits;
    const grant_limits& glimits;
    std::string* why;
    grants out;
    std::size_t count = 0;

    bool add(std::vector<selector>& to, selector_kind kind, std::string_view text, std::string_view where) {
        if (++count > glimits.max_selectors)
            return malformed(why, "more than " + std::to_string(glimits.max_selectors) + " selectors in the token");
        std::string reason;
        auto s = selector::parse(kind, text, limits, &reason);
        if (!s) return malformed(why, std::string(where) + ": " + reason);
        to.push_back(std::move(*s));
        return true;
    }

    bool payload_text(const json::value& v, std::string& text, std::string_view where) {
        text = json::serialize(v);
        if (text.size() > glimits.max_payload_bytes)
            return malformed(why, std::string(where) + ": payload over " + std::to_string(glimits.max_payload_bytes) + " bytes");
        return true;
    }

    // Released: {"publish": [..], "subscribe": [..], "payload": ..}.
    bool released(const json::value& m) {
        if (!m.is_object()) return malformed(why, "mercure: not an object");
        for (const char* name : {"publish", "subscribe"}) {
            const json::value* list = m.find(name);
            if (list == nullptr || list->is_null()) continue;
            if (!list->is_array()) return malformed(why, std::string("mercure.") + name + ": not an array");
            auto& to = std::string_view(name) == "publish" ? out.publish : out.subscribe;
            for (const auto& item : list->as_array()) {
                if (!item.is_string()) return malformed(why, std::string("mercure.") + name + ": not an array of strings");
                if (!add(to, selector::released_kind(item.as_string()), item.as_string(), std::string("mercure.") + name))
                    return false;
            }
        }
        if (const json::value* p = m.find("payload"); p != nullptr && !p->is_null()) {
            grants::payload_rule rule;
            rule.topics.push_back(*selector::parse(selector_kind::any, "*", limits));
            if (!payload_text(*p, rule.payload, "mercure.payload")) return false;
            out.payloads.push_back(std::move(rule));
        }
        return true;
    }

    // Draft: one authorization detail of the Mercure type.
    bool detail(const json::value& d, std::size_t i) {
        const std::string where = "authorization_details[" + std::to_string(i) + "]";
        const json::value* actions = d.find("actions");
        const json::value* topics = d.find("topics");
        if (actions == nullptr || !actions->is_array() || actions->as_array().empty())
            return malformed(why, where + ".actions: not a non-empty array");
        if (topics == nullptr || !topics->is_array() || topics->as_array().empty())
            return malformed(why, where + ".topics: not a non-empty array");
        bool pub = false, sub = false;
        for (const auto& a : actions->as_array()) {
            if (!a.is_string()) return malformed(why, where + ".actions: not strings");
            pub = pub || a.as_string() == "publish";
            sub = sub || a.as_string() == "subscribe";  // unknown actions grant nothing
        }
        std::vector<selector> sels;
        for (const auto& t : topics->as_array()) {
            const json::value* match = t.find("match");
            if (!t.is_object() || match == nullptr || !match->is_string())
                return malformed(why, where + ".topics: each entry needs a string \"match\"");
            selector_kind kind = selector_kind::exact;
            if (const json::value* mt = t.find("match_type"); mt != nullptr) {
                if (!mt->is_string()) return malformed(why, where + ".topics: match_type is not a string");
                if (mt->as_string() == "urlpattern") kind = selector_kind::url_pattern;
                else if (mt->as_string() != "exact")
                    return malformed(why, where + ".topics: match_type \"" + mt->as_string() + "\" is not supported");
            }
            if (!add(sels, kind, match->as_string(), where + ".topics")) return false;
        }
        if (const json::value* p = d.find("payload"); p != nullptr && sub) {
            if (!p->is_object()) return malformed(why, where + ".payload: not an object");
            grants::payload_rule rule{sels, {}};
            if (!payload_text(*p, rule.payload, where)) return false;
            out.payloads.push_back(std::move(rule));
        }
        if (pub) out.publish.insert(out.publish.end(), sels.begin(), sels.end());
        if (sub) out.subscribe.insert(out.subscribe.end(), sels.begin(), sels.end());
        return true;
    }
};

}  // namespace

bool grants::may_publish(const std::vector<std::string>& topics) const {
    if (topics.empty()) return false;
    return std::all_of(topics.begin(), topics.end(), [&](const std::string& t) { return any_matches(publish, t); });
}

bool grants::may_read_private(const std::vector<std::string>& topics) const {
    return std::any_of(topics.begin(), topics.end(), [&](const std::string& t) { return any_matches(subscribe, t); });
}

std::optional<std::string> grants::payload_for(std::string_view subscription) const {
    for (const auto& rule : payloads)
        if (any_matches(rule.topics, subscription)) return rule.payload;
    return std::nullopt;
}

std::string grants::subscribe_key() const {
    std::vector<std::string> keys;
    for (const auto& s : subscribe) keys.push_back(s.key());
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::string out;
    for (const auto& k : keys) {
        out += k;
        out.push_back('\0');
    }
    return out;
}

std::optional<grants> read_grants(std::string_view claims_json, const selector_limits& limits,
                                  const grant_limits& glimits, std::string* why) {
    json::value claims;
    std::string err;
    if (!json::parse(claims_json, claims, &err) || !claims.is_object()) {
        malformed(why, "claims: not a JSON object");
        return std::nullopt;
    }
    reader r{limits, glimits, why, {}};
    if (const json::value* m = claims.find("mercure"); m != nullptr && !r.released(*m)) return std::nullopt;
    if (const json::value* ad = claims.find("authorization_details"); ad != nullptr) {
        if (!ad->is_array()) {
            malformed(why, "authorization_details: not an array");
            return std::nullopt;
        }
        for (std::size_t i = 0; i < ad->as_array().size(); ++i) {
            const json::value& d = ad->as_array()[i];
            const json::value* type = d.find("type");
            if (!d.is_object() || type == nullptr || !type->is_string()) {
                malformed(why, "authorization_details[" + std::to_string(i) + "]: not an object with a string type");
                return std::nullopt;
            }
            if (type->as_string() != authorization_detail_type) continue;  // another API's detail
            if (!r.detail(d, i)) return std::nullopt;
        }
    }
    return std::move(r.out);
}

}  // namespace ssehub::mercure
