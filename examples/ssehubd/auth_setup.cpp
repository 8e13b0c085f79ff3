#include "auth_setup.hpp"

#include <ssehub/auth.hpp>
#include <ssehub/jwt.hpp>
#include <ssehub/replayer.hpp>

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
    if (!opts_.jwt_jwks.empty()) jwks_stamp_ = jwks_stamp();
    keys_ = load();
    next_look_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
}

std::shared_ptr<const ssehub::jwt_options> jwt_verifier::load() const {
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
        if (!opts_.jwt_jwks.empty()) j->keys.add_jwks_file(opts_.jwt_jwks);
    } catch (const ssehub::jwt_key_error& e) {
        throw std::runtime_error(std::string("--jwt-jwks ") + e.what());
    }
    return j;
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
    if (opts_.jwt_jwks.empty()) return keys_;
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
            if (auto ec = jwt->verify(*token, r, &why))
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
    if (o.replay_size > 0) {
        if (!o.replay_db.empty()) {
#ifdef SSEHUBD_HAS_SQLITE
            // examples/sqlite_replayer: durable, so one node replays across its restarts.
            sqlite_example::sqlite_replayer_config rc;
            rc.path = o.replay_db;
            rc.max_events = o.replay_size;
            rc.max_age = o.replay_max_age;
            cfg.replayer = ssehub::any_replayer(std::in_place_type<sqlite_example::sqlite_replayer>, std::move(rc));
#else
            throw std::runtime_error("--replay-db: this ssehubd was built without SQLite3");
#endif
        } else {
            ssehub::memory_replayer_config rc;
            rc.max_events = o.replay_size;
            rc.max_age = o.replay_max_age;
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
