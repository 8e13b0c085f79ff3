#include "auth_setup.hpp"

#include <ssehub/auth.hpp>
#include <ssehub/base64.hpp>
#include <ssehub/connect_proxy.hpp>
#include <ssehub/json_value.hpp>
#include <ssehub/jwt.hpp>
#include <ssehub/replayer.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_future.hpp>

#include <stdexcept>

#ifdef SSEHUBD_HAS_SQLITE
#include <sqlite_replayer.hpp>
#endif

namespace ssehubd {
namespace {

ssehub::auth_outcome refuse(std::string reason) {
    ssehub::auth_outcome o;
    o.status = 401;
    o.log_reason = std::move(reason);
    return o;
}

}  // namespace

jwt_verifier::jwt_verifier(const options& opts, reload_report on_reload)
    : opts_(opts), on_reload_(std::move(on_reload)) {
    if (!ssehub::hs256_available)
        throw std::runtime_error("--auth jwt: this ssehub was built without OpenSSL (no JWT verification)");
    if (opts_.jwt_jwks.find("://") != std::string::npos) {
        jwks_url_ = ssehub::http::parse_url(opts_.jwt_jwks);
        if (!jwks_url_) throw std::runtime_error("--jwt-jwks: expected a file or http(s)://host[:port][/path]");
        std::string error;
        const auto doc = fetch_sync(error);
        if (!doc) throw std::runtime_error("--jwt-jwks " + opts_.jwt_jwks + ": " + error);
        keys_ = load(&*doc);
        next_fetch_ = std::chrono::steady_clock::now() + std::chrono::seconds(opts_.jwt_jwks_refresh_s);
        return;
    }
    if (!opts_.jwt_jwks.empty()) jwks_stamp_ = jwks_stamp();
    keys_ = load();
    next_look_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
}

std::shared_ptr<const ssehub::jwt_options> jwt_verifier::load(const std::string* jwks_document) const {
    auto j = std::make_shared<ssehub::jwt_options>();
    j->secret = opts_.jwt_secret;
    if (!opts_.jwt_issuer.empty()) j->issuer = opts_.jwt_issuer;
    if (!opts_.jwt_audience.empty()) j->audience = opts_.jwt_audience;
    j->leeway = std::chrono::seconds(opts_.jwt_leeway_s);
    try {
        if (!opts_.jwt_public_key.empty()) j->keys.add_pem_file(opts_.jwt_public_key);
    } catch (const ssehub::jwt_key_error& e) {
        throw std::runtime_error(std::string("--jwt-public-key ") + e.what());
    }
    try {
        if (jwks_document) j->keys.add_jwks(*jwks_document);
        else if (!opts_.jwt_jwks.empty()) j->keys.add_jwks_file(opts_.jwt_jwks);
    } catch (const ssehub::jwt_key_error& e) {
        throw std::runtime_error(std::string("--jwt-jwks ") + e.what());
    }
    return j;
}

namespace {

ssehub::http::client_options jwks_fetch_options(const options& opts) {
    ssehub::http::client_options o;
    o.ca_file = opts.backend_ca_file;
    o.timeout = std::chrono::seconds(5);
    o.max_body_bytes = ssehub::jwt_key_limits{}.max_bytes;  // what add_jwks accepts
    return o;
}

std::string fetch_error(std::error_code ec, const ssehub::http::client_response& r) {
    if (ec == std::errc::message_size)
        return "the JWKS is over " + std::to_string(ssehub::jwt_key_limits{}.max_bytes) + " bytes";
    if (ec) return ec.message();
    return "answered HTTP " + std::to_string(r.status);
}

}  // namespace

std::optional<std::string> jwt_verifier::fetch_sync(std::string& error) const {
    asio::io_context io;
    std::error_code ec;
    auto done = asio::co_spawn(
        io, ssehub::http::async_request(*jwks_url_, "GET", "", "", jwks_fetch_options(opts_), ec), asio::use_future);
    io.run();
    auto r = done.get();
    if (ec || r.status != 200) {
        error = fetch_error(ec, r);
        return std::nullopt;
    }
    return std::move(r.body);
}

asio::awaitable<void> jwt_verifier::refresh() const {
    std::error_code ec;
    const auto fetch = jwks_fetch_options(opts_);  // named: see docs/serving.md on g++ 12 and co_await temporaries
    auto r = co_await ssehub::http::async_request(*jwks_url_, "GET", "", "", fetch, ec);
    if (ec || r.status != 200) {
        if (on_reload_) on_reload_(false, fetch_error(ec, r));
        co_return;
    }
    try {
        auto keys = load(&r.body);
        const auto n = keys->keys.size();
        {
            std::lock_guard lock(mu_);
            keys_ = std::move(keys);
        }
        if (on_reload_) on_reload_(true, std::to_string(n) + " keys");
    } catch (const std::exception& e) {
        if (on_reload_) on_reload_(false, e.what());
    }
}

bool jwt_verifier::unknown_kid(std::string_view token) const {
    const auto dot = token.find('.');
    if (dot == std::string_view::npos) return false;
    const auto header = ssehub::base64url::decode(token.substr(0, dot));
    if (!header) return false;
    const auto doc = ssehub::json::parse(*header);
    const ssehub::json::value* kid = doc ? doc->find("kid") : nullptr;
    if (!kid || !kid->is_string()) return false;
    std::lock_guard lock(mu_);
    for (const auto& k : keys_->keys.keys())
        if (k.kid == kid->as_string()) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_kid_fetch_) return false;
    next_kid_fetch_ = now + std::chrono::seconds(opts_.jwt_jwks_min_refresh_s);
    return true;
}

asio::awaitable<std::error_code> verify_fetching(std::shared_ptr<const jwt_verifier> v, std::string token,
                                                 ssehub::auth_result& out, std::string* why) {
    std::error_code ec = v->verify(token, out, why);
    if (!v->fetches_jwks()) co_return ec;
    if (ec && v->unknown_kid(token)) {
        co_await v->refresh();
        if (why) why->clear();
        co_return v->verify(token, out, why);
    }
    bool due = false;
    {
        std::lock_guard lock(v->mu_);
        const auto now = std::chrono::steady_clock::now();
        if (now >= v->next_fetch_) {
            v->next_fetch_ = now + std::chrono::seconds(v->opts_.jwt_jwks_refresh_s);
            due = true;
        }
    }
    if (due) {  // in the background: this stream does not wait for it
        asio::co_spawn(co_await asio::this_coro::executor, v->refresh(), [v](std::exception_ptr e) {
            if (!e || !v->on_reload_) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                v->on_reload_(false, x.what());
            }
        });
    }
    co_return ec;
}

jwt_verifier::stamp jwt_verifier::jwks_stamp() const {
    std::error_code ec;
    stamp s;
    s.mtime = std::filesystem::last_write_time(opts_.jwt_jwks, ec);
    if (ec) return {};
    s.size = std::filesystem::file_size(opts_.jwt_jwks, ec);
    return ec ? stamp{} : s;
}

std::shared_ptr<const ssehub::jwt_options> jwt_verifier::current() const {
    std::lock_guard lock(mu_);
    if (opts_.jwt_jwks.empty() || jwks_url_) return keys_;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_look_) return keys_;
    next_look_ = now + std::chrono::seconds(1);
    const stamp s = jwks_stamp();
    if (s == jwks_stamp_) return keys_;
    jwks_stamp_ = s;  // a bad file is reported once, not on every look
    try {
        keys_ = load();
        if (on_reload_) on_reload_(true, std::to_string(keys_->keys.size()) + " keys");
    } catch (const std::exception& e) {
        if (on_reload_) on_reload_(false, e.what());
    }
    return keys_;
}

std::error_code jwt_verifier::verify(std::string_view token, ssehub::auth_result& out, std::string* why) const {
    const auto keys = current();
    return ssehub::verify_jwt(token, *keys, out, why);
}

std::error_code jwt_verifier::verify(std::string_view token, const std::string& topics_claim, ssehub::auth_result& out,
                                     std::string* why) const {
    ssehub::jwt_options o = *current();  // copies share the parsed keys
    o.topics_claim = topics_claim;
    return ssehub::verify_jwt(token, o, out, why);
}

void setup_auth_and_replay(ssehub::hub_config& cfg, const options& o, const ssehub::any_ticket_store& tickets,
                           std::shared_ptr<const jwt_verifier> jwt) {
    if (o.auth == auth_mode::jwt) {
        if (!jwt) throw std::runtime_error("--auth jwt: no verifier");
        cfg.authenticate = [jwt](const ssehub::http::request& req) -> asio::awaitable<ssehub::auth_outcome> {
            auto token = ssehub::bearer_token(req);
            if (!token) co_return refuse("no token");
            ssehub::auth_result r;
            std::string why;
            if (auto ec = co_await verify_fetching(jwt, std::move(*token), r, &why))
                co_return refuse("invalid token: " + (why.empty() ? ec.message() : why));
            ssehub::auth_outcome out;
            out.metadata = std::move(r.metadata);
            out.allowed_topics = std::move(r.allowed_topics);
            out.expires = r.expires;  // the stream ends with auth-expired then
            co_return out;
        };
    } else if (o.auth == auth_mode::tickets) {
        cfg.authenticate = ssehub::ticket_auth(tickets);
    }
    if (!o.connect_proxy.empty()) {
        ssehub::connect_proxy_options p;
        p.url = o.connect_proxy;
        p.timeout = o.connect_proxy_timeout;
        p.concurrency = o.connect_proxy_concurrency;
        p.allow_on_failure = o.connect_proxy_allow_on_failure;
        p.headers = o.connect_proxy_headers;
        p.cookies = o.connect_proxy_cookies;
        p.ca_file = o.backend_ca_file;
        try {
            cfg.authenticate = ssehub::connect_proxy_auth(std::move(p));
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(std::string("--connect-proxy: ") + e.what());
        }
    }
    if (o.replay_size > 0) {
        if (!o.replay_db.empty()) {
#ifdef SSEHUBD_HAS_SQLITE
            // examples/sqlite_replayer: durable, so one node replays across its restarts.
            sqlite_example::sqlite_replayer_config rc;
            rc.path = o.replay_db;
            rc.max_events = o.replay_size;
            rc.max_age = o.replay_max_age;
            if (o.mercure) rc.earliest_id = "earliest";  // Mercure's "everything you have"
            cfg.replayer = ssehub::any_replayer(std::in_place_type<sqlite_example::sqlite_replayer>, std::move(rc));
#else
            throw std::runtime_error("--replay-db: this ssehubd was built without SQLite3");
#endif
        } else {
            ssehub::memory_replayer_config rc;
            rc.max_events = o.replay_size;
            rc.max_age = o.replay_max_age;
            if (o.mercure) rc.earliest_id = "earliest";  // Mercure's "everything you have"
            cfg.replayer = ssehub::any_replayer(std::in_place_type<ssehub::memory_replayer>, rc);
        }
        cfg.max_replay = o.max_replay;
    }
    cfg.shutdown_event = "server-shutdown";
}

bool same_secret(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

bool same_subscriber(const ssehub::http::request& req, const ssehub::metadata& meta, const jwt_verifier* jwt) {
    if (jwt == nullptr || meta.empty()) return false;
    const auto token = ssehub::bearer_token(req);
    if (!token) return false;
    ssehub::auth_result who;
    if (jwt->verify(*token, who)) return false;
    return who.metadata == meta;
}

}  // namespace ssehubd
