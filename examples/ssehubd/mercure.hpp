// ssehubd's Mercure endpoint (--mercure, docs/mercure.md): what
// GET /.well-known/mercure (a subscription, served by the hub like /events)
// and POST /.well-known/mercure (a publish) mean, on top of ssehub::mercure
// (selectors, grants, the router onto hub topics).
// Thread safety: after construction every member is safe from any thread
// (the router is internally synchronised; the rest is immutable).
#pragma once

#include "options.hpp"

#include <ssehub/auth.hpp>
#include <ssehub/event.hpp>
#include <ssehub/http.hpp>
#include <ssehub/jwt.hpp>
#include <ssehub/mercure/grants.hpp>
#include <ssehub/mercure/router.hpp>
#include <ssehub/mercure/selector.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ssehubd {

class mercure_endpoint {
public:
    static constexpr std::string_view path = "/.well-known/mercure";

    // Reads the key files (a missing or unusable one throws std::runtime_error naming it).
    explicit mercure_endpoint(const options& opts);

    // GET: the hub's authentication step for a Mercure subscriber. Decides
    // the connection's hub topics from its selectors (`topic`, `match`,
    // `match_exact`, `match_urlpattern`, `matchURLPattern`) and its token's
    // grants; 400 for bad selectors, 401 for a missing (unless anonymous) or
    // invalid token.
    ssehub::auth_outcome subscribe(const ssehub::http::request& req);

    // Extra headers of a subscriber's response head: the Last-Event-ID it
    // asked for, as `Last-Event-ID` (released) and `Mercure-Last-Event-ID` (draft).
    std::vector<ssehub::http::header> stream_headers(const ssehub::http::request& req) const;

    struct refusal {
        int status = 400;
        std::string message;
        std::string challenge;  // WWW-Authenticate value; empty: none
    };
    // POST: the event for a publish (the caller's id, type, data and
    // retry), or why not. It is in the wire form: its Mercure topics ride
    // along (see route()), so that the node that delivers it routes it
    // (with --redis, every node; its own router knows which templates its
    // subscribers use).
    std::variant<refusal, ssehub::event> publish(const ssehub::http::request& req, std::string_view body) const;

    // An update in the wire form travels on the hub topic `wire_topic`
    // with its Mercure topics and private flag in `group` (the JSON array
    // under "mercure.topics", "mercure.private": "1"); route() turns it into
    // the hub event this node delivers: its hub topics from the router, the
    // group emptied. Other events are left alone (false).
    static constexpr std::string_view wire_topic = "mercure.update";
    bool route(ssehub::event& ev) const;

    ssehub::mercure::router& routes() noexcept { return router_; }

    // --- Subscriptions (--mercure-subscriptions) ---
    bool subscriptions() const noexcept { return subscriptions_; }
    // Metadata key every Mercure connection carries ("1"): the presence
    // filter that lists them.
    static constexpr std::string_view marker = "mercure";
    // Whether `req` may read the subscriptions API: a subscriber token with
    // a subscribe grant on the request's path (401 / 403 otherwise).
    std::optional<refusal> subscriptions_refusal(const ssehub::http::request& req) const;
    // The JSON-LD objects of one connection's subscriptions (its selectors),
    // from its metadata; empty for a connection that is not Mercure's.
    std::vector<nlohmann::json> subscriptions_of(const std::string& connection_id, const ssehub::metadata& meta,
                                                 bool active) const;
    // The private updates announcing them (one per subscription), in the wire form.
    std::vector<ssehub::event> subscription_events(const std::string& connection_id, const ssehub::metadata& meta,
                                                   bool active) const;

private:
    // The token's grants, or a refusal (401 invalid_token).
    std::variant<refusal, ssehub::mercure::grants> verify(std::string_view token, const ssehub::jwt_options& keys,
                                                          ssehub::auth_result& who) const;

    ssehub::jwt_options publisher_keys_;
    ssehub::jwt_options subscriber_keys_;
    bool has_subscriber_keys_ = false;
    bool anonymous_ = false;
    bool query_token_ = true;
    bool subscriptions_ = false;
    std::vector<std::string> cookie_origins_;  // --cors-origins: who may publish with the cookie
    std::size_t max_selectors_ = 32;
    std::size_t max_update_topics_ = 64;
    std::size_t max_field_bytes_ = 64 * 1024;
    ssehub::mercure::selector_limits limits_;
    ssehub::mercure::router router_;
};

}  // namespace ssehubd
