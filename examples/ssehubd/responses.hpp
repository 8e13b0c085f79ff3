// Building the daemon's JSON answers (never the event stream).
// Thread safety: pure functions.
#pragma once

#include "api.hpp"
#include "daemon.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace ssehubd {

inline daemon::response json_response(int status, const nlohmann::json& j) {
    return {status, "application/json", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

inline daemon::response error_response(int status, std::string message, std::string field = {}) {
    return {status, "application/json", api::error_body({status, std::move(field), std::move(message)}), {}};
}

inline daemon::response from_api_error(const api::error& e) {
    return {e.status, "application/json", api::error_body(e), {}};
}

}  // namespace ssehubd
