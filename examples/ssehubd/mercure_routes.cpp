// The daemon's Mercure routes (--mercure, docs/mercure.md): publish, the
// subscriptions API, and the subscription events of the hooks. The
// subscription stream itself is served by the hub (http_server.cpp).
#include "daemon.hpp"

// g++ 12's false positive on Asio's coroutine frames (see routes.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "mercure.hpp"
#include "responses.hpp"

#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

namespace ssehubd {

namespace http = ssehub::http;

namespace {

daemon::response plain_text(int status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body), {}}; }

daemon::response refusal_response(const mercure_endpoint::refusal& no) {
    daemon::response r = plain_text(no.status, no.message + "\n");
    if (!no.challenge.empty()) r.headers.push_back({"WWW-Authenticate", no.challenge});
    return r;
}

}  // namespace

// POST /.well-known/mercure: a Mercure publish (form fields, the publisher's
// token); 200 text/plain with the event's id (the caller's, when it gave one).
asio::awaitable<daemon::response> daemon::mercure_publish(request_context& ctx) {
    if (draining_.load()) {
        response r = plain_text(503, "shutting down\n");
        r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        co_return r;
    }
    auto prepared = mercure_->publish(ctx.req, ctx.body);
    if (auto* no = std::get_if<mercure_endpoint::refusal>(&prepared)) {
        if (no->status == 401 || no->status == 403) counters_.publish_scope_refused.fetch_add(1);
        log_.debug("mercure_publish_refused", {{"remote", ctx.remote}, {"status", no->status}, {"reason", no->message}});
        co_return refusal_response(*no);
    }
    auto& ev = std::get<ssehub::event>(prepared);
    if (redis_) {  // through Redis: every node routes it (its own subscribers' selectors) and delivers it once, with
                   // the caller's id or the Stream's
        const auto rr = co_await redis_->publish(std::move(ev));
        if (rr.ec) {
            counters_.publish_failures.fetch_add(1);
            log_.warn("redis_publish_failed", {{"node", redis_->node()}, {"error", rr.ec.message()}});
            response out = plain_text(503, "redis unavailable, retry later\n");
            out.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
            co_return out;
        }
        log_.debug("mercure_publish", {{"id", rr.id}, {"nodes", rr.nodes}});
        co_return plain_text(200, rr.id);
    }
    mercure_->route(ev);
    std::error_code ec;
    const ssehub::publish_result r = co_await hub_->async_publish(std::move(ev), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == ssehub::error::intake_full || ec == ssehub::error::hub_stopped) {
        counters_.publish_failures.fetch_add(1);
        response out = plain_text(503, ec == ssehub::error::hub_stopped ? "shutting down\n" : "publish intake full, retry later\n");
        out.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        co_return out;
    }
    if (ec == ssehub::error::invalid_event_field) co_return plain_text(400, "id or type: not accepted\n");
    if (ec) co_return plain_text(500, "publish failed: " + ec.message() + "\n");
    log_.debug("mercure_publish", {{"id", r.id}, {"matched", r.matched}});
    co_return plain_text(200, r.id);
}

// GET /.well-known/mercure/subscriptions[/{topic}[/{subscriber}]]: the
// Mercure connections from the presence API, as JSON-LD.
asio::awaitable<daemon::response> daemon::mercure_subscriptions(request_context& ctx) {
    if (!mercure_->subscriptions()) co_return plain_text(404, "start ssehubd with --mercure-subscriptions\n");
    if (ctx.req.method != "GET") {
        response r = plain_text(405, "method not allowed\n");
        r.headers.push_back({"Allow", "GET"});
        co_return r;
    }
    if (auto no = mercure_->subscriptions_refusal(ctx.req)) co_return refusal_response(*no);
    // "", "/{topic}" or "/{topic}/{subscriber}", each part percent-encoded.
    std::string_view rest = ctx.req.path().substr(std::string_view("/.well-known/mercure/subscriptions").size());
    std::vector<std::string> parts;
    while (!rest.empty()) {
        if (rest.front() != '/') co_return plain_text(404, "not found\n");
        rest.remove_prefix(1);
        const auto slash = rest.find('/');
        std::string decoded;
        if (!http::percent_decode(rest.substr(0, slash), decoded, false)) co_return plain_text(400, "bad percent-encoding\n");
        parts.push_back(std::move(decoded));
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    }
    if (parts.size() > 2) co_return plain_text(404, "not found\n");

    nlohmann::json list = nlohmann::json::array();
    ssehub::presence_query q;
    q.filter.match = {{std::string(mercure_endpoint::marker), "1"}};
    q.limit = hub_->config().max_presence_page;
    const bool cluster = redis_ && redis_->cluster();  // --redis: every node's subscribers
    for (;;) {  // every page (bounded by --max-connections)
        std::error_code ec;
        ssehub::presence_page page;
        if (cluster) {
            auto p = co_await redis_->presence(q);
            if (p.ec) {
                response r = plain_text(503, "redis unavailable, retry later\n");
                r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
                co_return r;
            }
            page.entries = std::move(p.entries);
            page.next = std::move(p.next);
        } else {
            page = co_await hub_->async_presence(q, asio::redirect_error(asio::use_awaitable, ec));
        }
        if (ec) co_return plain_text(500, "presence: " + ec.message() + "\n");
        for (const auto& e : page.entries) {
            if (parts.size() == 2 && e.id != parts[1]) continue;
            for (auto& s : mercure_->subscriptions_of(e.id, e.metadata, true))
                if (parts.empty() || s["topic"] == parts[0]) list.push_back(std::move(s));
        }
        if (page.next.empty()) break;
        q.after = page.next;
    }
    nlohmann::json body;
    if (parts.size() == 2) {
        if (list.empty()) co_return plain_text(404, "no such subscription\n");
        body = std::move(list[0]);
        body["@context"] = "https://mercure.rocks/";
    } else {
        body = {{"@context", "https://mercure.rocks/"},
                {"id", std::string(ctx.req.path())},
                {"type", "Subscriptions"},
                {"subscriptions", std::move(list)}};
    }
    co_return response{200, "application/ld+json", body.dump(), {}};
}

namespace {

// A subscription event through Redis, so every node's subscribers may get it.
asio::awaitable<void> publish_through(redis_bridge* redis, logger* log, ssehub::event ev) {
    const auto r = co_await redis->publish(std::move(ev));
    if (r.ec) log->warn("mercure_subscription_event_failed", {{"error", r.ec.message()}});
}

}  // namespace

void daemon::announce_subscriptions(const ssehub::connection& c, bool active) {
    if (!mercure_ || !mercure_->subscriptions()) return;
    for (auto& ev : mercure_->subscription_events(c.id(), c.metadata(), active)) {
        if (redis_) {
            asio::co_spawn(ioc_, publish_through(redis_.get(), &log_, std::move(ev)),
                           [this](std::exception_ptr e) { log_.exception("mercure_subscription_event", e); });
            continue;
        }
        mercure_->route(ev);
        if (auto ec = hub_->publish(std::move(ev))) log_.warn("mercure_subscription_event_failed", {{"error", ec.message()}});
    }
}

}  // namespace ssehubd
