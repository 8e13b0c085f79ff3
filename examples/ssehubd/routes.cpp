// The daemon's routes: what each path answers. The event stream itself is
// handed to the hub by http_server.cpp; /events is only routed here while
// draining (503).
#include "daemon.hpp"

// g++ 12 inlines Asio's coroutine frame allocation (awaitable_frame_base's
// operator new) into route() and publish() here and then reports the class's
// own operator delete as mismatched: a false positive (see perf/loadgen).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "api.hpp"
#include "auth_setup.hpp"
#include "responses.hpp"
#include "ssehubd_assets.hpp"  // generated: demo_html, ssehub_js

#include <ssehub/http.hpp>

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <nlohmann/json.hpp>

#include <system_error>

namespace ssehubd {

using json = nlohmann::json;
namespace http = ssehub::http;

asio::awaitable<daemon::response> daemon::route(request_context& ctx) {
    const http::request& req = ctx.req;
    const std::string_view path = req.path();
    const std::string_view m = req.method;

    if (m == "OPTIONS") {
        if (!cors_origin(req)) co_return error_response(403, "origin not allowed");
        response r{204, "", "", {}};
        r.headers = {{"Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"},
                     {"Access-Control-Allow-Headers", "Authorization, Cache-Control, Content-Type, Last-Event-ID, X-Publisher-Key"},
                     {"Access-Control-Max-Age", "600"}};
        co_return r;
    }
    auto method_not_allowed = [](std::string_view allow) {
        response r = error_response(405, "method not allowed");
        r.headers.push_back({"Allow", std::string(allow)});
        return r;
    };
    auto unavailable = [this](std::string message) {
        response r = error_response(503, std::move(message));
        r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        return r;
    };

    if (path == "/events") {
        if (m != "GET") co_return method_not_allowed("GET");
        co_return unavailable("shutting down");  // only reached while draining
    }
    if (path == "/events/visibility") {
        if (m != "POST") co_return method_not_allowed("POST");
        co_return visibility(ctx);
    }
    if (path == "/publish" || path.starts_with("/publish/")) {
        const std::string_view kind = path == "/publish" ? std::string_view() : path.substr(9);
        if (!kind.empty() && !api::is_kill_polling_kind(kind)) co_return error_response(404, "not found");
        if (m != "POST") co_return method_not_allowed("POST");
        co_return co_await publish(ctx, kind);
    }
#ifdef SSEHUBD_HAS_MERCURE
    if (path.starts_with("/.well-known/mercure/subscriptions") && mercure_) co_return co_await mercure_subscriptions(ctx);
    if (is_mercure(req)) {
        if (m == "POST") co_return co_await mercure_publish(ctx);
        if (m != "GET") co_return method_not_allowed("GET, POST");
        co_return unavailable("shutting down");  // a GET is only routed here while draining
    }
#endif
    if (path == "/tickets") {
        if (m != "POST") co_return method_not_allowed("POST");
        co_return co_await tickets(ctx);
    }
    if (path == "/admin" || path == "/admin/events") co_return admin_page(ctx);
    if (path == "/presence" || path == "/presence/count" || path == "/connections" || path.starts_with("/connections/"))
        co_return co_await admin(ctx);
    const bool get = m == "GET";
    if (path == "/healthz") {
        if (!get) co_return method_not_allowed("GET");
        co_return json_response(200, {{"status", "ok"}});
    }
    if (path == "/readyz") {
        if (!get) co_return method_not_allowed("GET");
        if (draining_.load()) {
            response r = json_response(503, {{"status", "draining"}});
            r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
            co_return r;
        }
        if (redis_ && opts_.redis_ready && !redis_->up()) {
            response r = json_response(503, {{"status", "redis_unavailable"}});
            r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
            co_return r;
        }
        co_return json_response(200, {{"status", "ready"}});
    }
    if (path == "/metrics") {
        if (!get) co_return method_not_allowed("GET");
        const auto s = hub_->stats(false, opts_.metrics_topic_series);
        co_return response{200, "text/plain; version=0.0.4; charset=utf-8",
                           render_prometheus(s, counters_, opts_.metrics_topic_series) +
                               (redis_ ? redis_->prometheus() : std::string()),
                           {}};
    }
    if (path == "/stats") {
        if (!get) co_return method_not_allowed("GET");
        co_return stats(ctx);
    }
    if (path == "/" && opts_.demo) {
        if (!get) co_return method_not_allowed("GET");
        co_return response{200, "text/html; charset=utf-8", std::string(ssehubd_assets::demo_html), {}};
    }
    if (path == "/ssehub.js" && opts_.demo && !ssehubd_assets::ssehub_js.empty()) {
        if (!get) co_return method_not_allowed("GET");
        co_return response{200, "text/javascript; charset=utf-8", std::string(ssehubd_assets::ssehub_js), {}};
    }
    co_return error_response(404, "not found");
}

asio::awaitable<daemon::response> daemon::publish(request_context& ctx, std::string_view kind) {
    const auto who = identify_publisher(ctx.req);
    if (!who) {
        log_.warn("publisher_key_refused", {{"remote", ctx.remote}, {"path", ctx.req.path()}});
        response r = error_response(401, "publisher key missing or wrong (X-Publisher-Key or Authorization: Bearer)");
        r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"ssehubd\""});
        co_return r;
    }
    if (auto limited = rate_limited(*who, ctx.remote)) co_return std::move(*limited);
    auto unavailable = [this](std::string message) {
        counters_.publish_failures.fetch_add(1);
        response r = error_response(503, std::move(message));
        r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        return r;
    };
    if (draining_.load()) co_return unavailable("shutting down");

    const api::limits lim{opts_.max_topic_length, opts_.max_topics, 64};
    if (kind.empty() && api::is_publish_batch(ctx.body)) co_return co_await publish_batch(ctx, *who, lim);
    std::optional<ssehub::event> ev;
    if (kind.empty()) {
        auto parsed = api::parse_publish(ctx.body, lim);
        if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
        ev = std::move(std::get<ssehub::event>(parsed));
    } else {
        auto parsed = api::parse_kill_polling(kind, ctx.body, lim);
        if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
        ev = std::move(std::get<std::optional<ssehub::event>>(parsed));
        if (!ev) co_return json_response(202, {{"id", nullptr}, {"matched", 0}});
    }
    // A scoped key publishes all of the event's topics or nothing.
    if (auto refused = publish_refusal(*who, *ev)) {
        counters_.publish_scope_refused.fetch_add(1);
        log_.warn("publish_scope_refused", {{"remote", ctx.remote}, {"publisher", who->name}});
        co_return from_api_error(*refused);
    }
    if (redis_) {  // through Redis: every node (this one included) delivers it once
        const auto rr = co_await redis_->publish(std::move(*ev));
        if (rr.ec == ssehub::error::invalid_topic) co_return error_response(400, "topics: not a valid topic", "topics");
        if (rr.ec == ssehub::error::no_target)
            co_return error_response(400, "topics: at least one topic (or a group) is required", "topics");
        if (rr.ec == ssehub::error::invalid_event_field)
            co_return error_response(400, opts_.nats_url.empty() ? "id: at most 256 bytes; id, type: no CR, LF or NUL"
                                                                  : "id: not accepted with --nats (ids are made by the node); type: no CR, LF or NUL",
                                     "id");
        if (rr.ec && !rr.id.empty() && rr.replicas >= 0) {  // --redis-wait-replicas: published, not confirmed
            log_.warn("redis_publish_unconfirmed", {{"node", redis_->node()}, {"id", rr.id}, {"replicas", rr.replicas}});
            co_return unavailable("published as " + rr.id + " on the master, but only " + std::to_string(rr.replicas) +
                                  " of " + std::to_string(opts_.redis_wait_replicas) +
                                  " replicas confirmed it within --redis-wait-timeout-ms: a failover may lose it, a "
                                  "retry may deliver it twice");
        }
        if (rr.ec) {
            log_.warn("redis_publish_failed", {{"node", redis_->node()}, {"error", rr.ec.message()}});
            co_return unavailable(std::string(opts_.nats_url.empty() ? "redis" : "nats") + " unavailable, retry later");
        }
        log_.debug("publish", {{"id", rr.id}, {"nodes", rr.nodes}, {"kind", kind.empty() ? "event" : kind}});
        co_return json_response(202, {{"id", rr.id}, {"nodes", rr.nodes}});
    }
    std::error_code ec;
    const ssehub::publish_result r =
        co_await hub_->async_publish(std::move(*ev), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == ssehub::error::intake_full) co_return unavailable("publish intake full, retry later");
    if (ec == ssehub::error::hub_stopped) co_return unavailable("shutting down");
    if (ec == ssehub::error::expired) co_return json_response(202, {{"id", nullptr}, {"matched", 0}, {"expired", true}});
    if (ec == ssehub::error::invalid_topic) co_return error_response(400, "topics: not a valid topic", "topics");
    if (ec == ssehub::error::no_target) co_return error_response(400, "topics: at least one topic (or a group) is required", "topics");
    if (ec == ssehub::error::invalid_event_field)
        co_return error_response(400, "id, type: must not contain CR, LF or NUL", "id");
    if (ec) co_return error_response(500, "publish failed: " + ec.message());
    log_.debug("publish", {{"id", r.id}, {"matched", r.matched}, {"kind", kind.empty() ? "event" : kind}});
    co_return json_response(202, {{"id", r.id}, {"matched", r.matched}});
}

// POST /publish with a JSON array: every event parsed and checked against the
// key's scope before any is published, then published in order. An error
// part-way (intake full, draining, Redis down) answers 503 with the results of
// those already published, so the caller retries the rest only.
asio::awaitable<daemon::response> daemon::publish_batch(request_context& ctx, const publisher& who,
                                                        const api::limits& lim) {
    auto parsed = api::parse_publish_batch(ctx.body, lim, opts_.max_batch_events);
    if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
    auto& events = std::get<std::vector<ssehub::event>>(parsed);
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (auto refused = publish_refusal(who, events[i])) {
            counters_.publish_scope_refused.fetch_add(1);
            log_.warn("publish_scope_refused", {{"remote", ctx.remote}, {"publisher", who.name}});
            refused->message = "[" + std::to_string(i) + "]: " + refused->message;
            co_return from_api_error(*refused);
        }
    }
    for (std::size_t i = 0; redis_ && i < events.size(); ++i) {  // refused before any is published
        if (!opts_.nats_url.empty() && !events[i].id.empty())
            co_return error_response(400, "[" + std::to_string(i) + "].id: not accepted with --nats (ids are made by the node)", "id");
        if (events[i].id.size() > 256) co_return error_response(400, "[" + std::to_string(i) + "].id: at most 256 bytes", "id");
    }
    nlohmann::json results = nlohmann::json::array();
    auto stopped = [&](std::string message) {
        counters_.publish_failures.fetch_add(1);
        response r = json_response(503, {{"error", std::move(message)}, {"published", results.size()}, {"results", results}});
        r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        return r;
    };
    for (auto& ev : events) {
        if (draining_.load()) co_return stopped("shutting down");
        if (redis_) {
            const auto rr = co_await redis_->publish(std::move(ev));
            if (rr.ec) co_return stopped(std::string(opts_.nats_url.empty() ? "redis" : "nats") + " unavailable, retry later");
            results.push_back({{"id", rr.id}, {"nodes", rr.nodes}});
            continue;
        }
        std::error_code ec;
        const ssehub::publish_result r = co_await hub_->async_publish(std::move(ev), asio::redirect_error(asio::use_awaitable, ec));
        if (ec == ssehub::error::expired) results.push_back({{"id", nullptr}, {"matched", 0}, {"expired", true}});
        else if (ec == ssehub::error::intake_full) co_return stopped("publish intake full, retry later");
        else if (ec == ssehub::error::hub_stopped) co_return stopped("shutting down");
        else if (ec) co_return stopped("publish failed: " + ec.message());
        else results.push_back({{"id", r.id}, {"matched", r.matched}});
    }
    log_.debug("publish_batch", {{"events", results.size()}});
    co_return json_response(202, {{"results", std::move(results)}});
}

asio::awaitable<daemon::response> daemon::tickets(request_context& ctx) {
    if (!tickets_) co_return error_response(404, "tickets are not enabled (start ssehubd with --auth tickets)");
    const auto who = identify_publisher(ctx.req);
    if (!who) {
        log_.warn("publisher_key_refused", {{"remote", ctx.remote}, {"path", "/tickets"}});
        response r = error_response(401, "publisher key missing or wrong (X-Publisher-Key or Authorization: Bearer)");
        r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"ssehubd\""});
        co_return r;
    }
    if (draining_.load()) {
        response r = error_response(503, "shutting down");
        r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        co_return r;
    }
    const api::limits lim{opts_.max_topic_length, opts_.max_topics, 64};
    auto parsed = api::parse_ticket_request(ctx.body, lim);
    if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
    const auto& t = std::get<api::ticket_request>(parsed);
    if (auto refused = ticket_refusal(*who, t.topics, t.metadata)) {
        counters_.publish_scope_refused.fetch_add(1);
        log_.warn("ticket_scope_refused", {{"remote", ctx.remote}, {"publisher", who->name}});
        co_return from_api_error(*refused);
    }
    const auto ttl = t.ttl.value_or(opts_.ticket_ttl);
    std::string ticket;
    try {
        ticket = co_await ssehub::issue_ticket(tickets_, ssehub::ticket_value(t.topics, t.metadata), ttl);
    } catch (const std::system_error& e) {
        log_.warn("ticket_store_refused", {{"error", e.code().message()}});
        response r = error_response(503, "ticket store full, retry later");
        r.headers.push_back({"Retry-After", "1"});
        co_return r;
    }
    counters_.tickets_issued.fetch_add(1);
    log_.info("ticket_issued", {{"topics", t.topics.size()}, {"ttl_ms", ttl.count()}});  // never the ticket itself
    co_return json_response(201, {{"ticket", ticket}, {"expires_in_ms", ttl.count()}});
}

daemon::response daemon::visibility(request_context& ctx) {
    const std::string* ct = ctx.req.find("Content-Type");
    auto parsed = api::parse_visibility(ctx.body, ct ? std::string_view(*ct) : std::string_view());
    if (auto* e = std::get_if<api::error>(&parsed)) return from_api_error(*e);
    const auto& v = std::get<api::visibility_request>(parsed);

    bool owner = false;
    std::optional<conn_record> rec;
    {
        std::lock_guard lock(conns_mu_);
        if (auto it = conns_.find(v.connection_id); it != conns_.end()) rec = it->second;
    }
    if (rec) {
        if (!rec->owner.empty() && !v.owner.empty()) owner = same_secret(rec->owner, v.owner);
        if (!owner && !rec->metadata.empty()) owner = same_subscriber(ctx.req, rec->metadata, jwt_.get());
    }
    // An unknown id and someone else's id get the same answer: no oracle for ids.
    if (!owner || !hub_->set_paused(v.connection_id, v.hidden)) {
        counters_.auth_failures.fetch_add(1);
        log_.warn("visibility_refused", {{"remote", ctx.remote}, {"conn", v.connection_id}});
        return error_response(403, "not the owner of this connection (or it is gone)");
    }
    log_.info(v.hidden ? "hidden" : "visible", {{"conn", v.connection_id}});
    return json_response(200, {{"connection_id", v.connection_id}, {"hidden", v.hidden}});
}

daemon::response daemon::stats(request_context& ctx) {
    // Aggregates for anyone (a scrape stays small with 10k connections); the
    // per-connection list only when asked for (?connections=1) with the admin key.
    const auto asked = ctx.req.query_param("connections");
    const bool details = asked && *asked == "1";
    if (details && !admin_configured())
        return error_response(403, "connection details need ssehubd started with --admin-key or --publisher-key");
    if (details && !is_admin(ctx.req)) {
        log_.warn("admin_key_refused", {{"remote", ctx.remote}, {"path", "/stats"}});
        response r = error_response(401, "admin key missing or wrong (X-Publisher-Key or Authorization: Bearer with "
                                         "--admin-key, or the --publisher-key without one)");
        r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"ssehubd\""});
        return r;
    }
    const auto s = hub_->stats(details, opts_.metrics_topic_series, opts_.metrics_topic_series);
    return {200, "application/json", render_stats_json(s, counters_, details), {}};
}

}  // namespace ssehubd
