// The admin routes: presence (who is connected to a topic), the connection
// list with filters, and disconnects by id or by user / tenant / topic
// (docs/presence-and-admin.md). All behind is_admin(); with no key configured
// at all (admin_configured() false), loopback clients only.
#include "daemon.hpp"

// g++ 12's false positive on Asio's coroutine frames (see routes.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "api.hpp"
#include "responses.hpp"

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
    if (admin_configured() ? !is_admin(req) : !loopback(ctx.remote)) {
        log_.warn("admin_refused", {{"remote", ctx.remote}, {"path", path}});
        if (!admin_configured())
            co_return error_response(403, "admin routes need ssehubd started with --admin-key or --publisher-key (or a loopback client)");
        response r = error_response(401, "admin key missing or wrong (X-Publisher-Key or Authorization: Bearer)");
        r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"ssehubd\""});
        co_return r;
    }
    const api::limits lim{hub_->config().max_topic_length, hub_->config().max_topics_per_connection, 64};
    std::error_code ec;
    if (list) {
        auto parsed = api::parse_presence_query(req, lim, path != "/connections");
        if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
        auto& q = std::get<ssehub::presence_query>(parsed);
        if (path == "/presence/count") {
            q.limit = 0;
            q.offset = 0;
        }
        const auto page = co_await hub_->async_presence(q, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return error_response(400, ec.message());
        json out{{"total", page.total}};
        if (!q.filter.topic.empty()) out["topic"] = q.filter.topic;
        if (path == "/presence/count") {
            out["count"] = page.total;
            co_return json_response(200, out);
        }
        json entries = json::array();
        for (const auto& e : page.entries) entries.push_back(entry_json(e));
        out["entries"] = std::move(entries);
        out["next"] = page.next.empty() ? json(nullptr) : json(page.next);
        co_return json_response(200, out);
    }
    if (path == "/connections/disconnect") {
        auto parsed = api::parse_disconnect(ctx.body, lim);
        if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
        auto& d = std::get<api::disconnect_request>(parsed);
        const std::size_t n = co_await hub_->async_disconnect(d.filter, d.reason,
                                                              asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return error_response(400, ec.message());
        log_.info("admin_disconnect", {{"remote", ctx.remote}, {"connections", n}, {"topic", d.filter.topic}});
        co_return json_response(200, {{"disconnected", n}});
    }
    // DELETE /connections/{id}?reason=
    const std::string_view id = path.substr(std::string_view("/connections/").size());
    const std::string reason = req.query_param("reason").value_or("admin");
    if (reason.size() > 1024) co_return error_response(400, "reason: longer than 1024 bytes", "reason");
    if (id.empty() || id.size() > 64 || !hub_->disconnect(id, reason))
        co_return error_response(404, "no connection with this id");
    log_.info("admin_disconnect", {{"remote", ctx.remote}, {"conn", id}});
    co_return json_response(200, {{"disconnected", id}});
}

}  // namespace ssehubd
