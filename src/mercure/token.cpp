#include "ssehub/mercure/token.hpp"

#include "ascii.hpp"

namespace ssehub::mercure {
using detail::ascii::iequals;
using detail::ascii::trim_ows;

std::optional<std::string> cookie(const http::request& req, std::string_view name) {
    for (const auto& h : req.headers) {
        if (!iequals(h.name, "cookie")) continue;
        std::string_view rest = h.value;
        while (!rest.empty()) {
            const auto semi = rest.find(';');
            const std::string_view pair = trim_ows(rest.substr(0, semi));
            rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
            const auto eq = pair.find('=');
            if (eq == std::string_view::npos || trim_ows(pair.substr(0, eq)) != name) continue;
            std::string_view v = trim_ows(pair.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
            return std::string(v);
        }
    }
    return std::nullopt;
}

std::optional<found_token> find_token(const http::request& req, bool allow_query) {
    if (const std::string* a = req.find("Authorization")) {
        std::string_view v = trim_ows(*a);
        if (v.size() > 7 && iequals(v.substr(0, 7), "bearer ")) {
            v = trim_ows(v.substr(7));
            if (!v.empty()) return found_token{std::string(v), "header"};
        }
    }
    if (allow_query) {
        for (const char* name : {"authorization", "access_token"})
            if (auto q = req.query_param(name); q && !q->empty()) return found_token{std::move(*q), "query"};
    }
    for (const char* name : {"mercureAuthorization", "mercureAccessToken", "__Secure-mercure_access_token"})
        if (auto c = cookie(req, name); c && !c->empty()) return found_token{std::move(*c), "cookie"};
    return std::nullopt;
}

}  // namespace ssehub::mercure
