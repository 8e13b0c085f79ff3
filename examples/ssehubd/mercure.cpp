#include "mercure.hpp"

#include <ssehub/mercure/token.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace ssehubd {

namespace mercure = ssehub::mercure;
namespace http = ssehub::http;

namespace {

// The wire form of an update (mercure_endpoint::route).
void to_wire(ssehub::event& ev, const std::vector<std::string>& topics, bool is_private) {
    ev.topics = {std::string(mercure_endpoint::wire_topic)};
    ev.group = {{"mercure.topics", nlohmann::json(topics).dump()}};
    if (is_private) ev.group.emplace("mercure.private", "1");
}


ssehub::jwt_options mercure_keys(const options& o, const std::string& secret, const std::string& pem_file, const char* flag) {
    ssehub::jwt_options k;
    k.secret = secret;
    if (!pem_file.empty()) {
        try {
            k.keys.add_pem_file(pem_file);
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string(flag) + ": " + e.what());
        }
    }
    k.types = {"JWT", "at+jwt"};  // released tokens, and the draft's RFC 9068 access tokens
    k.keep_claims = true;
    k.topics_claim.clear();
    k.metadata_claims = {"sub"};
    k.leeway = std::chrono::seconds(o.jwt_leeway_s);
    if (!o.mercure_issuer.empty()) k.issuer = o.mercure_issuer;
    if (!o.mercure_audience.empty()) k.audience = o.mercure_audience;
    return k;
}

bool ascii_iprefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    return true;
}

// The kind a subscribe parameter selects; nullopt: not a selector. `bad`
// is set for a name in the reserved `match` namespace that no kind has.
std::optional<mercure::selector_kind> parameter_kind(std::string_view name, const mercure_endpoint::refusal*& bad) {
    static const mercure_endpoint::refusal unknown{400, "unsupported topic matcher parameter (match, match_exact, "
                                                        "match_urlpattern or matchURLPattern)", {}};
    if (name == "topic") return mercure::selector_kind::exact;  // refined by released_kind
    if (name == "match" || name == "match_exact") return mercure::selector_kind::exact;
    if (name == "match_urlpattern" || name == "matchURLPattern") return mercure::selector_kind::url_pattern;
    if (ascii_iprefix(name, "match")) bad = &unknown;
    return std::nullopt;
}

ssehub::auth_outcome auth_refused(int status, std::string why) {
    ssehub::auth_outcome o;
    o.status = status;
    o.log_reason = std::move(why);
    return o;
}

}  // namespace

mercure_endpoint::mercure_endpoint(const options& o)
    : publisher_keys_(mercure_keys(o, o.mercure_publisher_key, o.mercure_publisher_public_key, "--mercure-publisher-public-key")),
      subscriber_keys_(mercure_keys(o, o.mercure_subscriber_key, o.mercure_subscriber_public_key, "--mercure-subscriber-public-key")),
      has_subscriber_keys_(!o.mercure_subscriber_key.empty() || !o.mercure_subscriber_public_key.empty()),
      anonymous_(o.mercure_anonymous),
      query_token_(o.mercure_query_token),
      subscriptions_(o.mercure_subscriptions),
      cookie_origins_(o.cors_origins),
      max_selectors_(o.max_topics / 2),
      max_update_topics_(o.max_topics),
      max_field_bytes_(o.max_body),
      router_([&] {
          mercure::router_config rc;
          rc.linger = o.replay_max_age;
          return rc;
      }()) {
    limits_.max_length = o.max_topic_length * 4;  // selectors are IRIs, not hub topics
    limits_.max_program_size = static_cast<int>(o.mercure_max_program_size);
    limits_.base_url = o.mercure_url;
}

std::variant<mercure_endpoint::refusal, mercure::grants> mercure_endpoint::verify(std::string_view token,
                                                                                  const ssehub::jwt_options& k,
                                                                                  ssehub::auth_result& who) const {
    static const std::string invalid = "Bearer error=\"invalid_token\"";
    std::string why;
    if (auto ec = ssehub::verify_jwt(token, k, who, &why)) return refusal{401, "invalid token: " + why, invalid};
    auto g = mercure::read_grants(who.claims, limits_, {}, &why);
    if (!g) return refusal{401, "invalid token: " + why, invalid};
    return std::move(*g);
}

ssehub::auth_outcome mercure_endpoint::subscribe(const http::request& req) {
    std::vector<mercure::selector> selectors;
    for (auto& [name, value] : http::parse_query(req.query())) {
        const refusal* bad = nullptr;
        auto kind = parameter_kind(name, bad);
        if (bad) return auth_refused(bad->status, bad->message + ": " + name);
        if (!kind) continue;
        if (name == "topic") kind = mercure::selector::released_kind(value);
        std::string why;
        auto s = mercure::selector::parse(*kind, value, limits_, &why);
        if (!s) return auth_refused(400, name + ": " + why);
        if (std::none_of(selectors.begin(), selectors.end(), [&](const mercure::selector& x) { return x.key() == s->key(); }))
            selectors.push_back(std::move(*s));
        if (selectors.size() > max_selectors_)
            return auth_refused(400, "more than " + std::to_string(max_selectors_) + " topic selectors (--max-topics / 2)");
    }
    if (selectors.empty()) return auth_refused(400, "missing \"topic\" (or \"match\") parameter");

    ssehub::auth_outcome out;
    std::optional<mercure::grants> g;
    if (auto t = mercure::find_token(req, query_token_)) {
        if (!has_subscriber_keys_) return auth_refused(401, "no subscriber key configured (--mercure-subscriber-jwt-key)");
        ssehub::auth_result who;
        auto v = verify(t->token, subscriber_keys_, who);
        if (auto* r = std::get_if<refusal>(&v)) return auth_refused(401, r->message + " (" + std::string(t->where) + ")");
        g = std::move(std::get<mercure::grants>(v));
        out.expires = who.expires;
        out.metadata = std::move(who.metadata);
    } else if (!anonymous_) {
        return auth_refused(401, "no token (start ssehubd with --mercure-anonymous to allow anonymous subscribers)");
    }
    out.topics = router_.subscriber_topics(selectors, g ? &*g : nullptr);
    if (out.topics->empty()) return auth_refused(503, "too many distinct templates and URL patterns in use");
    if (!subscriptions_) return out;
    // What the subscriptions API and events tell about it (kept only when
    // they are on: bytes per connection otherwise spent for nothing).
    nlohmann::json texts = nlohmann::json::array(), payloads = nlohmann::json::array();
    for (const auto& s : selectors) {
        texts.push_back(s.text());
        auto p = g ? g->payload_for(s.text()) : std::nullopt;
        payloads.push_back(p ? nlohmann::json::parse(*p, nullptr, false) : nlohmann::json());
    }
    out.metadata[std::string(marker)] = "1";
    out.metadata["mercure.topics"] = texts.dump();
    out.metadata["mercure.payloads"] = payloads.dump();
    return out;
}

std::vector<http::header> mercure_endpoint::stream_headers(const http::request& req) const {
    std::optional<std::string> id;
    if (const std::string* h = req.find("Last-Event-ID")) id = *h;
    else if (auto q = req.query_param("lastEventID")) id = std::move(q);
    else if (auto q2 = req.query_param("last_event_id")) id = std::move(q2);
    if (!id || id->empty() || id->size() > 256 || !mercure::is_clean_text(*id)) return {};
    return {{"Last-Event-ID", *id}, {"Mercure-Last-Event-ID", *id}};
}

std::variant<mercure_endpoint::refusal, ssehub::event> mercure_endpoint::publish(const http::request& req,
                                                                                 std::string_view body) const {
    const auto t = mercure::find_token(req, false);
    if (!t) return refusal{401, "no token (Authorization: Bearer, or the mercureAuthorization cookie)", "Bearer"};
    if (t->where == "cookie") {
        // A cookie goes with any page's request: publishing with one needs
        // no Origin (not a browser) or one of --cors-origins (no CSRF).
        const std::string* origin = req.find("Origin");
        const bool allowed = !origin || std::any_of(cookie_origins_.begin(), cookie_origins_.end(), [&](const std::string& a) {
                                 return a == *origin;
                             });
        if (!allowed) return refusal{403, "publishing with the cookie from this Origin (not in --cors-origins)", {}};
    }
    ssehub::auth_result who;
    auto v = verify(t->token, publisher_keys_, who);
    if (auto* r = std::get_if<refusal>(&v)) return std::move(*r);
    const auto& g = std::get<mercure::grants>(v);

    const std::string* ct = req.find("Content-Type");
    if (!ct || !ascii_iprefix(*ct, "application/x-www-form-urlencoded"))
        return refusal{400, "Content-Type must be application/x-www-form-urlencoded", {}};
    std::vector<std::string> topics;
    ssehub::event ev;
    bool is_private = false;
    for (auto& [name, value] : http::parse_query(body)) {
        if (value.size() > max_field_bytes_) return refusal{413, name + ": too long", {}};
        if (name == "topic") {
            if (topics.size() == max_update_topics_)
                return refusal{413, "more than " + std::to_string(max_update_topics_) + " topics (--max-topics)", {}};
            topics.push_back(std::move(value));
        } else if (name == "data") {
            ev.data = std::move(value);
        } else if (name == "private") {
            is_private = true;  // present: private, whatever its value
        } else if (name == "id") {
            if (value.starts_with('#') || value == "earliest" || !mercure::is_clean_text(value) || value.size() > 256)
                return refusal{400, "id: must not start with #, be \"earliest\", have control characters or exceed 256 bytes", {}};
            ev.id = std::move(value);
        } else if (name == "type") {
            if (!mercure::is_clean_text(value) || value == "mercure")
                return refusal{400, "type: control characters, or the reserved \"mercure\"", {}};
            ev.type = std::move(value);
        } else if (name == "retry") {
            if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos)
                return refusal{400, "retry: milliseconds, digits only", {}};
            ev.retry = std::chrono::milliseconds(std::stoll(value));
        }  // other fields are ignored, as the protocol asks
    }
    if (topics.empty()) return refusal{400, "missing \"topic\" field", {}};
    for (const auto& topic : topics) {
        if (topic.empty() || topic == "*" || !mercure::is_clean_text(topic))
            return refusal{400, "topic: empty, \"*\", or control characters", {}};
        if (mercure::in_reserved_namespace(topic, limits_.base_url))
            return refusal{403, "topic: in the hub's reserved namespace (" + std::string(path) + ")", {}};
    }
    if (!g.may_publish(topics))
        return refusal{403, "the token does not allow publishing to every topic", "Bearer error=\"insufficient_scope\""};
    to_wire(ev, topics, is_private);
    return ev;
}

bool mercure_endpoint::route(ssehub::event& ev) const {
    if (ev.topics.size() != 1 || ev.topics[0] != wire_topic) return false;
    const auto t = ev.group.find("mercure.topics");
    const auto topics = t == ev.group.end() ? nlohmann::json() : nlohmann::json::parse(t->second, nullptr, false);
    std::vector<std::string> list;
    if (topics.is_array())
        for (const auto& x : topics)
            if (x.is_string()) list.push_back(x.get<std::string>());
    const bool is_private = ev.group.contains("mercure.private");
    ev.group.clear();
    // A malformed one (not from a Mercure endpoint) reaches nobody.
    ev.topics = list.empty() ? std::vector<std::string>{"mercure.none"} : router_.update_topics(list, is_private);
    return true;
}

std::optional<mercure_endpoint::refusal> mercure_endpoint::subscriptions_refusal(const http::request& req) const {
    const auto t = mercure::find_token(req, query_token_);
    if (!t) return refusal{401, "the subscriptions API needs a subscriber token", "Bearer"};
    if (!has_subscriber_keys_) return refusal{401, "no subscriber key configured", "Bearer error=\"invalid_token\""};
    ssehub::auth_result who;
    auto v = verify(t->token, subscriber_keys_, who);
    if (auto* r = std::get_if<refusal>(&v)) return std::move(*r);
    const std::string path_topic(req.path());
    if (!std::get<mercure::grants>(v).may_read_private({path_topic}))
        return refusal{403, "the token does not grant subscribe on " + path_topic, "Bearer error=\"insufficient_scope\""};
    return std::nullopt;
}

namespace {

std::string percent_encoded(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

}  // namespace

std::vector<nlohmann::json> mercure_endpoint::subscriptions_of(const std::string& connection_id,
                                                               const ssehub::metadata& meta, bool active) const {
    std::vector<nlohmann::json> out;
    const auto topics = meta.find("mercure.topics");
    const auto payloads = meta.find("mercure.payloads");
    if (meta.find(marker) == meta.end() || topics == meta.end()) return out;
    const auto t = nlohmann::json::parse(topics->second, nullptr, false);
    const auto p = payloads == meta.end() ? nlohmann::json() : nlohmann::json::parse(payloads->second, nullptr, false);
    if (!t.is_array()) return out;
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (!t[i].is_string()) continue;
        const std::string topic = t[i].get<std::string>();
        nlohmann::json s{{"id", std::string(path) + "/subscriptions/" + percent_encoded(topic) + "/" + percent_encoded(connection_id)},
                         {"type", "Subscription"},
                         {"subscriber", connection_id},
                         {"topic", topic},
                         {"active", active}};
        if (p.is_array() && i < p.size() && !p[i].is_null()) s["payload"] = p[i];
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<ssehub::event> mercure_endpoint::subscription_events(const std::string& connection_id,
                                                                  const ssehub::metadata& meta, bool active) const {
    std::vector<ssehub::event> out;
    for (auto& s : subscriptions_of(connection_id, meta, active)) {
        ssehub::event ev;
        const std::string topic = s["id"].get<std::string>();  // the subscription's own IRI (relative, as the reference hub)
        s["@context"] = "https://mercure.rocks/";
        ev.data = s.dump();
        to_wire(ev, {topic}, true);  // private: subscribe grants on it are needed
        out.push_back(std::move(ev));
    }
    return out;
}

}  // namespace ssehubd
