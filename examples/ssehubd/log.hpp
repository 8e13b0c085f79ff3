// Structured one-line logs: one JSON object per line on stderr, e.g.
//   {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"connect","conn":"9f..","topics":["orders"]}
// Callers pass only what is safe to log: paths without query strings, never
// tokens, tickets or keys.
// Thread safety: safe from any thread (one mutex around the write).
#pragma once

#include "options.hpp"

#include <nlohmann/json.hpp>

#include <exception>
#include <mutex>
#include <string_view>

namespace ssehubd {

class logger {
public:
    explicit logger(log_level min) : min_(min) {}

    bool enabled(log_level l) const noexcept { return l >= min_; }

    // `fields` must be a JSON object (or null); its members follow ts, level, msg.
    void write(log_level l, std::string_view msg, const nlohmann::ordered_json& fields = nullptr);

    void debug(std::string_view msg, const nlohmann::ordered_json& f = nullptr) { write(log_level::debug, msg, f); }
    void info(std::string_view msg, const nlohmann::ordered_json& f = nullptr) { write(log_level::info, msg, f); }
    void warn(std::string_view msg, const nlohmann::ordered_json& f = nullptr) { write(log_level::warn, msg, f); }
    void error(std::string_view msg, const nlohmann::ordered_json& f = nullptr) { write(log_level::error, msg, f); }

    // Logs an exception that ended a coroutine (`what`: where); a client
    // that went away mid-request (eof, reset, aborted) is normal and not logged.
    void exception(std::string_view what, std::exception_ptr e);

private:
    log_level min_;
    std::mutex mu_;
};

}  // namespace ssehubd
