// The admin routes: presence (who is connected to a topic), the connection
// list with filters, and disconnects by id or by user / tenant / topic
// (docs/presence-and-admin.md); the dashboard at /admin, its event stream's
// snapshots (docs/admin-dashboard.md). All behind is_admin(); with no key
// configured at all (admin_configured() false), loopback clients only.
#include "daemon.hpp"

// g++ 12's false positive on Asio's coroutine frames (see routes.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "api.hpp"
#include "responses.hpp"
#include "ssehubd_assets.hpp"  // generated: admin_html

#include <ssehub/error.hpp>

#include <asio/ip/address.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <nlohmann/json.hpp>

#include <chrono>

namespace ssehubd {

using json = nlohmann::json;
namespace http = ssehub::http;

namespace {

// "ip:port" or "[v6]:port" of a loopback peer.
bool loopback(std::string_view remote) {
    std::string_view host = remote;
    if (host.starts_with('[')) host = host.substr(1, host.find(']') - 1);
    else host = host.substr(0, host.rfind(':'));
    std::error_code ec;
    const auto a = asio::ip::make_address(std::string(host), ec);
    if (ec) return false;
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
    return a.is_loopback();
}

json entry_json(const ssehub::presence_entry& e) {
    json meta = json::object();
    for (const auto& [k, v] : e.metadata) meta[k] = v;
    return {{"id", e.id},
            {"metadata", std::move(meta)},
            {"topics", e.topics},
            {"connected_at",
             std::chrono::duration_cast<std::chrono::seconds>(e.connected_at.time_since_epoch()).count()}};
}

// The answer of /presence, /presence/count and /connections; `nodes`
// (cluster-wide answers) names each entry's node.
json page_json(const std::string& topic, std::size_t total, const std::vector<ssehub::presence_entry>& entries,
               const std::vector<std::string>* nodes, const std::string& next, bool count) {
    json out{{"total", total}};
    if (!topic.empty()) out["topic"] = topic;
    if (count) {
        out["count"] = total;
        return out;
    }
    json list = json::array();
    for (std::size_t i = 0; i < entries.size(); ++i) {
        list.push_back(entry_json(entries[i]));
        if (nodes) list.back()["node"] = (*nodes)[i];
    }
    out["entries"] = std::move(list);
    out["next"] = next.empty() ? json(nullptr) : json(next);
    return out;
}

}  // namespace

asio::awaitable<daemon::response> daemon::admin(request_context& ctx) {
    const http::request& req = ctx.req;
    const std::string_view path = req.path();
    const bool list = path == "/presence" || path == "/presence/count" || path == "/connections";
    const std::string_view allow = list ? "GET" : path == "/connections/disconnect" ? "POST" : "DELETE";
    if (req.method != allow) {
        response r = error_response(405, "method not allowed");
        r.headers.push_back({"Allow", std::string(allow)});
        co_return r;
    }
    if (!admin_allowed(req, ctx.remote)) {
        log_.warn("admin_refused", {{"remote", ctx.remote}, {"path", path}});
        if (!admin_configured())
            co_return error_response(403, "admin routes need ssehubd started with --admin-key or --publisher-key (or a loopback client)");
        response r = error_response(401, "admin key missing or wrong (X-Publisher-Key or Authorization: Bearer)");
        r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"ssehubd\""});
        co_return r;
    }
    const api::limits lim{hub_->config().max_topic_length, hub_->config().max_topics_per_connection, 64};
    std::error_code ec;
    // With --redis: every live node's entries, and disconnects that reach
    // every node (redis_presence); otherwise this node's hub.
    const bool cluster = redis_ && redis_->cluster();
    auto unavailable = [this] {
        response r = error_response(503, "redis unavailable, retry later");
        r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        return r;
    };
    if (list) {
        auto parsed = api::parse_presence_query(req, lim, path != "/connections");
        if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
        auto& q = std::get<ssehub::presence_query>(parsed);
        const bool count = path == "/presence/count";
        if (count) {
            q.limit = 0;
            q.offset = 0;
        }
        json out;
        if (cluster) {
            const auto page = co_await redis_->presence(q);
            if (page.ec == ssehub::error::invalid_topic) co_return error_response(400, page.ec.message(), "topic");
            if (page.ec) co_return unavailable();
            out = page_json(q.filter.topic, page.total, page.entries, &page.entry_nodes, page.next, count);
            out["nodes"] = page.nodes;
        } else {
            const auto page = co_await hub_->async_presence(q, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return error_response(400, ec.message());
            out = page_json(q.filter.topic, page.total, page.entries, nullptr, page.next, count);
        }
        co_return json_response(200, out);
    }
    if (path == "/connections/disconnect") {
        auto parsed = api::parse_disconnect(ctx.body, lim);
        if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
        auto& d = std::get<api::disconnect_request>(parsed);
        json out;
        if (cluster) {
            const auto r = co_await redis_->disconnect(d.filter, d.reason);
            if (r.ec == ssehub::error::invalid_topic) co_return error_response(400, r.ec.message(), "topic");
            if (r.ec) co_return unavailable();
            out = {{"disconnected", r.disconnected}, {"nodes", r.nodes}, {"answered", r.answered}};
        } else {
            const std::size_t n = co_await hub_->async_disconnect(d.filter, d.reason,
                                                                  asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return error_response(400, ec.message());
            out = {{"disconnected", n}};
        }
        log_.info("admin_disconnect",
                  {{"remote", ctx.remote}, {"connections", out["disconnected"]}, {"topic", d.filter.topic}});
        co_return json_response(200, out);
    }
    // DELETE /connections/{id}?reason=
    const std::string_view id = path.substr(std::string_view("/connections/").size());
    const std::string reason = req.query_param("reason").value_or("admin");
    if (reason.size() > 1024) co_return error_response(400, "reason: longer than 1024 bytes", "reason");
    if (id.empty() || id.size() > 64) co_return error_response(404, "no connection with this id");
    json out{{"disconnected", id}};
    if (cluster) {
        const auto r = co_await redis_->disconnect(std::string(id), reason);
        if (r.ec) co_return unavailable();
        if (r.disconnected == 0 && r.answered < r.nodes)
            co_return error_response(504, "no answering node has this id, and not every node answered within "
                                          "--admin-reply-timeout-ms");
        if (r.disconnected == 0) co_return error_response(404, "no connection with this id");
        out["nodes"] = r.nodes;
        out["answered"] = r.answered;
    } else if (!hub_->disconnect(id, reason)) {
        co_return error_response(404, "no connection with this id");
    }
    log_.info("admin_disconnect", {{"remote", ctx.remote}, {"conn", id}});
    co_return json_response(200, out);
}

bool daemon::admin_allowed(const http::request& req, std::string_view remote) const {
    return admin_configured() ? is_admin(req) : loopback(remote);
}

daemon::response daemon::admin_page(request_context& ctx) {
    if (ctx.req.method != "GET") {
        response r = error_response(405, "method not allowed");
        r.headers.push_back({"Allow", "GET"});
        return r;
    }
    if (!admin_allowed(ctx.req, ctx.remote)) {
        log_.warn("admin_refused", {{"remote", ctx.remote}, {"path", ctx.req.path()}});
        if (!admin_configured())
            return error_response(403, "the admin dashboard needs ssehubd started with --admin-key or --publisher-key "
                                       "(or a loopback client)");
        // A browser asks for a user name and password: any name, the admin key.
        response r = error_response(401, "admin key missing or wrong: log in with any user name and the admin key as "
                                         "the password (or send it as X-Publisher-Key / Authorization: Bearer)");
        r.headers.push_back({"WWW-Authenticate", "Basic realm=\"ssehubd admin\", charset=\"UTF-8\""});
        return r;
    }
    if (ctx.req.path() == "/admin/events") {  // streamed by answer() unless draining
        response r = error_response(503, "shutting down");
        r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        return r;
    }
    response r{200, "text/html; charset=utf-8", std::string(ssehubd_assets::admin_html), {}};
    // Its buttons disconnect clients: never inside someone else's frame.
    r.headers.push_back({"Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                         "frame-ancestors 'none'"});
    r.headers.push_back({"X-Frame-Options", "DENY"});
    return r;
}

asio::awaitable<std::string> daemon::admin_snapshot() {
    const auto s = hub_->stats(false, opts_.admin_top, opts_.admin_top);
    auto j = stats_json(s, counters_, false);
    j["at_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch()).count();
    j["node"] = redis_ ? redis_->node() : opts_.node_id;
    j["threads"] = loops_.size();
    if (redis_)
        j["engine"] = {{"kind", opts_.nats_url.empty() ? "redis" : "nats"}, {"up", redis_->up()}};
    else
        j["engine"] = {{"kind", "none"}};
    if (s.replay_events) j["replay"]["capacity"] = opts_.replay_size;
    j["top"] = opts_.admin_top;
    j["dashboards"] = admin_hub_->stats(false, 0).active_connections;
    if (redis_ && redis_->cluster()) {  // every live node and its streams (cluster-wide presence)
        const auto live = co_await redis_->nodes();
        auto& engine = j["engine"];
        if (live.ec) {
            engine["nodes"] = nullptr;
        } else {
            engine["nodes"] = nlohmann::ordered_json::array();
            for (const auto& n : live.nodes)
                engine["nodes"].push_back({{"node", n.id}, {"connections", n.connections}, {"expires_ms", n.expires_ms}});
        }
    }
    co_return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

asio::awaitable<void> daemon::admin_feed() {
    // Only while someone watches; the event is retained, so a dashboard that
    // opens gets the latest snapshot at once, and coalesced, so a slow one
    // gets the newest instead of a backlog.
    for (;;) {
        admin_timer_.expires_after(opts_.admin_feed_interval);
        std::error_code ec;
        co_await admin_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;  // drain
        if (admin_hub_->stats(false, 0).active_connections == 0) continue;
        ssehub::event ev;
        ev.type = "stats";
        ev.data = co_await admin_snapshot();
        ev.topics = {std::string(admin_topic)};
        ev.lane = ssehub::priority::coalesced;
        ev.coalesce_key = "stats";
        ev.retain = true;
        co_await admin_hub_->async_publish(std::move(ev), asio::redirect_error(asio::use_awaitable, ec));
        if (ec == ssehub::error::hub_stopped) co_return;
    }
}

}  // namespace ssehubd
