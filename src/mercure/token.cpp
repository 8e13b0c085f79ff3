#include "ssehub/mercure/token.hpp"

#include <cctype>

namespace ssehub::mercure {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
}

}  // namespace

std::optional<std::string> cookie(const http::request& req, std::string_view name) {
    for (const auto& h : req.headers) {
        if (!iequals(h.name, "cookie")) continue;
        std::string_view rest = h.value;
        while (!rest.empty()) {
            const auto semi = rest.find(';');
            const std::string_view pair = trim(rest.substr(0, semi));
            rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
            const auto eq = pair.find('=');
            if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
            std::string_view v = trim(pair.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
            return std::string(v);
        }
    }
    return std::nullopt;
}

std::optional<found_token> find_token(const http::request& req, bool allow_query) {
    if (const std::string* a = req.find("Authorization")) {
        std::string_view v = trim(*a);
        if (v.size() > 7 && iequals(v.substr(0, 7), "bearer ")) {
            v = trim(v.substr(7));
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
