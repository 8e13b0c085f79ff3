#include "log.hpp"

#include <asio/error.hpp>

#include <chrono>
#include <system_error>
#include <cstdio>
#include <ctime>

namespace ssehubd {
namespace {

std::string utc_now() {
    const auto now = std::chrono::system_clock::now();
    const auto t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

}  // namespace

void logger::write(log_level l, std::string_view msg, const nlohmann::ordered_json& fields) {
    if (!enabled(l)) return;
    nlohmann::ordered_json line;
    line["ts"] = utc_now();
    line["level"] = to_string(l);
    line["msg"] = msg;
    if (fields.is_object())
        for (const auto& [k, v] : fields.items()) line[k] = v;
    // replace: a client's invalid UTF-8 (a path, a topic) must not throw here.
    std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    text += '\n';
    std::lock_guard lock(mu_);
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

void logger::exception(std::string_view what, std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error& se) {
        const auto c = se.code();
        if (c == asio::error::eof || c == asio::error::connection_reset || c == asio::error::operation_aborted ||
            c == asio::error::broken_pipe || c == asio::error::bad_descriptor || c == asio::error::not_connected)
            return;
        error("exception", {{"in", what}, {"error", se.what()}});
    } catch (const std::exception& ex) {
        error("exception", {{"in", what}, {"error", ex.what()}});
    } catch (...) {
        error("exception", {{"in", what}, {"error", "unknown"}});
    }
}

}  // namespace ssehubd
