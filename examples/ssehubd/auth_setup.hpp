// Plugs --auth none|jwt|tickets and --replay-size/--replay-db into the hub config, and
// answers whether a request comes from a given subscriber (visibility).
// Thread safety: the functions are safe from any thread; the authenticators
// they install are called by the hub from connection strands.
#pragma once

#include "options.hpp"

#include <ssehub/config.hpp>
#include <ssehub/http.hpp>
#include <ssehub/jwt.hpp>
#include <ssehub/ticket_store.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>

namespace ssehubd {

// --auth jwt: the keys of --jwt-secret, --jwt-public-key and --jwt-jwks with
// the --jwt-issuer/--jwt-audience checks. The files are read at construction
// (a missing or unusable file throws std::runtime_error naming it). The JWKS
// file is read again when its modification time or size changes (looked at,
// at most once a second, by a verification); a new file that cannot be used
// keeps the previous keys. `on_reload(ok, detail)` reports each new read.
class jwt_verifier {
public:
    using reload_report = std::function<void(bool ok, std::string_view detail)>;
    explicit jwt_verifier(const options& opts, reload_report on_reload = {});

    // ssehub::verify_jwt with the current keys (safe from any thread).
    std::error_code verify(std::string_view token, ssehub::auth_result& out, std::string* why = nullptr) const;
    // The same, with the topic patterns read from `topics_claim` (a
    // publisher's "publish" claim) instead of the subscriber's "topics".
    std::error_code verify(std::string_view token, const std::string& topics_claim, ssehub::auth_result& out,
                           std::string* why = nullptr) const;

private:
    struct stamp {
        std::filesystem::file_time_type mtime{};
        std::uintmax_t size = 0;
        bool operator==(const stamp&) const = default;
    };
    std::shared_ptr<const ssehub::jwt_options> load() const;  // throws std::runtime_error
    stamp jwks_stamp() const;
    std::shared_ptr<const ssehub::jwt_options> current() const;

    const options opts_;
    reload_report on_reload_;
    mutable std::mutex mu_;
    mutable std::shared_ptr<const ssehub::jwt_options> keys_;
    mutable stamp jwks_stamp_;
    mutable std::chrono::steady_clock::time_point next_look_;
};

// Sets authenticate (the `jwt` verifier, or ticket_auth over `tickets`), the
// replayer (memory, or the SQLite file of --replay-db), max_replay and the
// shutdown event. Throws std::runtime_error for --auth jwt on an ssehub built
// without OpenSSL or without a verifier, or when the --replay-db file cannot
// be opened.
void setup_auth_and_replay(ssehub::hub_config& cfg, const options& opts,
                           const ssehub::any_ticket_store& tickets, std::shared_ptr<const jwt_verifier> jwt);

// Whether `req` carries credentials of the subscriber whose metadata is
// `meta` (--auth jwt: a valid token with the same, non-empty metadata).
// Tickets are single-use, so they never prove ownership twice; ?owner= does.
// Constant-time comparison of two secrets (a length mismatch returns at once).
bool same_secret(std::string_view a, std::string_view b);

bool same_subscriber(const ssehub::http::request& req, const ssehub::metadata& meta, const jwt_verifier* jwt);

}  // namespace ssehubd
