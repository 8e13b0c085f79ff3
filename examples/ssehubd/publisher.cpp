#include "publisher.hpp"

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

}  // namespace

std::string_view presented_key(const ssehub::http::request& req) {
    if (const std::string* k = req.find("X-Publisher-Key")) return *k;
    const std::string* a = req.find("Authorization");
    if (!a || a->size() <= 7) return {};
    std::string_view v = *a;
    const bool bearer = std::equal(v.begin(), v.begin() + 7, "bearer ", [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == y;
    });
    if (!bearer) return {};
    v.remove_prefix(7);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    return v;
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
