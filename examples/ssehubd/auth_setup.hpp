// Plugs --auth none|jwt|tickets and --replay-size/--replay-db into the hub config, and
// answers whether a request comes from a given subscriber (visibility).
// Thread safety: the functions are safe from any thread; the authenticators
// they install are called by the hub from connection strands.
#pragma once

#include "options.hpp"

#include <ssehub/config.hpp>
#include <ssehub/http.hpp>
#include <ssehub/ticket_store.hpp>

#include <memory>

namespace ssehubd {

// Sets authenticate (jwt_auth or ticket_auth over `tickets`), the replayer
// (memory, or the SQLite file of --replay-db), max_replay and the shutdown
// event. Throws std::runtime_error for --auth jwt on an ssehub built without
// OpenSSL, or when the --replay-db file cannot be opened.
void setup_auth_and_replay(ssehub::hub_config& cfg, const options& opts,
                           const ssehub::any_ticket_store& tickets);

// Whether `req` carries credentials of the subscriber whose metadata is
// `meta` (--auth jwt: a valid token with the same, non-empty metadata).
// Tickets are single-use, so they never prove ownership twice; ?owner= does.
// Constant-time comparison of two secrets (a length mismatch returns at once).
bool same_secret(std::string_view a, std::string_view b);

bool same_subscriber(const ssehub::http::request& req, const ssehub::metadata& meta, const options& opts);

}  // namespace ssehubd
