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

ssehub::jwt_options jwt_options_of(const options& o) {
    ssehub::jwt_options j;
    j.secret = o.jwt_secret;
    if (!o.jwt_issuer.empty()) j.issuer = o.jwt_issuer;
    if (!o.jwt_audience.empty()) j.audience = o.jwt_audience;
    return j;
}

}  // namespace

void setup_auth_and_replay(ssehub::hub_config& cfg, const options& o,
                           const ssehub::any_ticket_store& tickets) {
    if (o.auth == auth_mode::jwt) {
        if (!ssehub::hs256_available)
            throw std::runtime_error("--auth jwt: this ssehub was built without OpenSSL (no HS256)");
        cfg.authenticate = ssehub::jwt_auth(jwt_options_of(o));
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

bool same_subscriber(const ssehub::http::request& req, const ssehub::metadata& meta, const options& opts) {
    if (opts.auth != auth_mode::jwt || meta.empty()) return false;
    const auto token = ssehub::bearer_token(req);
    if (!token) return false;
    ssehub::auth_result who;
    if (ssehub::verify_hs256(*token, jwt_options_of(opts), who)) return false;
    return who.metadata == meta;
}

}  // namespace ssehubd
