#include "publisher.hpp"

#include <ssehub/base64.hpp>

#include <ssehub/auth.hpp>

#include <algorithm>
#include <cctype>

namespace ssehubd {
namespace {

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
}

// The first of `topics` no pattern of `p` covers, or topics.size().
std::size_t first_outside(const publisher& p, const std::vector<std::string>& topics) {
    for (std::size_t i = 0; i < topics.size(); ++i) {
        const bool covered = std::any_of(p.topics.begin(), p.topics.end(),
                                         [&](const std::string& allowed) { return ssehub::pattern_covers(allowed, topics[i]); });
        if (!covered) return i;
    }
    return topics.size();
}

bool tenant_allowed(const publisher& p, const ssehub::metadata& m) {
    if (p.tenants.empty()) return true;
    const auto it = m.find("tenant_id");
    return it != m.end() && std::find(p.tenants.begin(), p.tenants.end(), it->second) != p.tenants.end();
}

api::error outside(const publisher& p, std::size_t i, std::string_view consequence) {
    return {403, "topics",
            "topics[" + std::to_string(i) + "]: outside the scope of publisher key '" + p.name +
                "' (topics: " + joined(p.topics) + "); " + std::string(consequence)};
}

// The credentials of `Authorization: <scheme> <credentials>` (scheme given
// lower case with its space, matched case-insensitively); empty otherwise.
std::string_view authorization(const ssehub::http::request& req, std::string_view scheme) {
    const std::string* a = req.find("Authorization");
    if (!a || a->size() <= scheme.size()) return {};
    std::string_view v = *a;
    const bool same = std::equal(scheme.begin(), scheme.end(), v.begin(), [](char want, char got) {
        return std::tolower(static_cast<unsigned char>(got)) == want;
    });
    if (!same) return {};
    v.remove_prefix(scheme.size());
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    return v;
}

}  // namespace

std::string_view presented_key(const ssehub::http::request& req) {
    if (const std::string* k = req.find("X-Publisher-Key")) return *k;
    return authorization(req, "bearer ");
}

std::string basic_password(const ssehub::http::request& req) {
    std::string_view v = authorization(req, "basic ");
    while (!v.empty() && v.back() == '=') v.remove_suffix(1);
    if (v.empty()) return {};
    // Standard base64 as base64url (the library's strict decoder).
    std::string url(v);
    for (char& c : url) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    std::string plain;
    if (!ssehub::base64url::decode(url, plain)) return {};
    const auto colon = plain.find(':');
    return colon == std::string::npos ? std::string() : plain.substr(colon + 1);
}

std::optional<api::error> publish_refusal(const publisher& p, const ssehub::event& ev) {
    if (!p.scoped) return std::nullopt;
    if (const auto i = first_outside(p, ev.topics); i < ev.topics.size()) return outside(p, i, "nothing was published");
    if (!tenant_allowed(p, ev.group))
        return api::error{403, "group.tenant_id",
                          "group.tenant_id: publisher key '" + p.name + "' publishes only events scoped to its tenants (" +
                              joined(p.tenants) + "): set group.tenant_id (or tenant) to one of them"};
    return std::nullopt;
}

std::optional<api::error> ticket_refusal(const publisher& p, const std::vector<std::string>& topics,
                                         const ssehub::metadata& meta) {
    if (!p.scoped) return std::nullopt;
    if (const auto i = first_outside(p, topics); i < topics.size()) return outside(p, i, "no ticket was issued");
    if (!tenant_allowed(p, meta))
        return api::error{403, "metadata.tenant_id",
                          "metadata.tenant_id: publisher key '" + p.name + "' issues tickets only for its tenants (" +
                              joined(p.tenants) + ")"};
    return std::nullopt;
}

}  // namespace ssehubd
