#include "ssehub/mercure/router.hpp"

#include <openssl/evp.h>

#include <set>
#include <stdexcept>

namespace ssehub::mercure {
namespace {

constexpr std::string_view public_prefix = "mercure.s.";
constexpr std::string_view private_prefix = "mercure.p.";
constexpr std::string_view no_reader_topic = "mercure.none";

}  // namespace

router::router(router_config cfg) : cfg_(std::move(cfg)) {}

router::time_point router::now() const { return cfg_.clock ? cfg_.clock() : std::chrono::steady_clock::now(); }

std::string router::hash(std::string_view key) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(key.data(), key.size(), digest, &len, EVP_sha256(), nullptr) != 1 || len < 16)
        throw std::runtime_error("SHA-256 failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(32);
    for (int i = 0; i < 16; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 15]);
    }
    return out;
}

std::string router::selector_topic(const selector& s) { return std::string(public_prefix) + hash(s.key()); }

std::vector<std::string> router::subscriber_topics(const std::vector<selector>& selectors, const grants* token) {
    std::vector<std::string> out;
    std::string hg;
    std::shared_ptr<const grants> g;
    if (token != nullptr && !token->subscribe.empty()) {
        hg = hash(token->subscribe_key());
        g = std::make_shared<const grants>(*token);
    }
    std::unique_lock lock(mu_);
    if (selector_defs_.size() + grant_defs_.size() > cfg_.max_definitions) {
        // Forget what no connection uses (an active entry keeps its own pointer).
        selector_defs_.clear();
        grant_defs_.clear();
    }
    if (g) grant_defs_.try_emplace(hg, g);
    // Evaluated from now on, not only once the hub reports the connection
    // (that report comes after registration, and an update published in
    // between must reach it). Until then the entry lingers: a subscriber the
    // hub then refuses leaves nothing behind for longer than `linger`.
    const auto t = now();
    std::size_t fresh = 0;
    for (const auto& s : selectors)
        if ((s.kind() == selector_kind::uri_template || s.kind() == selector_kind::url_pattern) &&
            !active_.contains(hash(s.key())))
            ++fresh;
    if (active_.size() + fresh > cfg_.max_evaluated) return {};
    for (const auto& s : selectors) {
        const std::string hs = hash(s.key());
        const bool evaluated = s.kind() == selector_kind::uri_template || s.kind() == selector_kind::url_pattern;
        if (evaluated) {
            auto sel = std::make_shared<const selector>(s);
            selector_defs_.try_emplace(hs, sel);
            active_.try_emplace(hs, entry{std::move(sel), nullptr, false, t});
        }
        out.push_back(std::string(public_prefix) + hs);
        if (g) {
            out.push_back(std::string(private_prefix) + hs + "." + hg);
            pairs_[hs].try_emplace(hg, entry{nullptr, g, false, t});
        }
    }
    return out;
}

void router::expire(time_point t) {
    for (auto it = active_.begin(); it != active_.end();) {
        if (!it->second.up && t - it->second.down_since >= cfg_.linger) it = active_.erase(it);
        else ++it;
    }
    for (auto it = pairs_.begin(); it != pairs_.end();) {
        for (auto p = it->second.begin(); p != it->second.end();) {
            if (!p->second.up && t - p->second.down_since >= cfg_.linger) p = it->second.erase(p);
            else ++p;
        }
        if (it->second.empty()) it = pairs_.erase(it);
        else ++it;
    }
}

void router::on_pattern(const std::string& hub_pattern, bool up) {
    const std::string_view p = hub_pattern;
    const bool pub = p.starts_with(public_prefix);
    const auto t = now();
    std::unique_lock lock(mu_);
    expire(t);
    if (!pub && !p.starts_with(private_prefix)) return;
    const std::string_view rest = p.substr(public_prefix.size());
    const std::string hs(rest.substr(0, 32));
    if (pub) {
        if (!up) {
            if (auto it = active_.find(hs); it != active_.end()) {
                it->second.up = false;
                it->second.down_since = t;
            }
            return;
        }
        if (auto it = active_.find(hs); it != active_.end()) {
            it->second.up = true;
            return;
        }
        const auto def = selector_defs_.find(hs);
        if (def == selector_defs_.end()) return;  // exact or `*`: computed per update, nothing to keep
        if (def->second->kind() != selector_kind::uri_template && def->second->kind() != selector_kind::url_pattern) return;
        active_[hs] = entry{def->second, nullptr, true, {}};
        return;
    }
    if (rest.size() != 32 + 1 + 32) return;
    const std::string hg(rest.substr(33));
    auto& by_grant = pairs_[hs];
    if (!up) {
        if (auto it = by_grant.find(hg); it != by_grant.end()) {
            it->second.up = false;
            it->second.down_since = t;
        }
        if (by_grant.empty()) pairs_.erase(hs);
        return;
    }
    if (auto it = by_grant.find(hg); it != by_grant.end()) {
        it->second.up = true;
        return;
    }
    const auto g = grant_defs_.find(hg);
    if (g == grant_defs_.end()) {
        if (by_grant.empty()) pairs_.erase(hs);
        return;
    }
    by_grant[hg] = entry{nullptr, g->second, true, {}};
}

std::vector<std::string> router::update_topics(const std::vector<std::string>& topics, bool is_private) const {
    // The selectors that match: each topic as an exact selector, `*`, and
    // the active templates and patterns that match one of the topics.
    std::set<std::string> matched;
    for (const auto& t : topics) matched.insert(hash("exact:" + t));
    matched.insert(hash("any:*"));
    std::shared_lock lock(mu_);
    for (const auto& [hs, e] : active_) {
        for (const auto& t : topics) {
            if (e.sel->matches(t)) {
                matched.insert(hs);
                break;
            }
        }
    }
    std::vector<std::string> out;
    if (!is_private) {
        for (const auto& hs : matched) out.push_back(std::string(public_prefix) + hs);
        return out;
    }
    std::map<const grants*, bool> allowed;  // each grant set evaluated once per update
    for (const auto& hs : matched) {
        const auto it = pairs_.find(hs);
        if (it == pairs_.end()) continue;
        for (const auto& [hg, e] : it->second) {
            auto [a, fresh] = allowed.try_emplace(e.token.get(), false);
            if (fresh) a->second = e.token->may_read_private(topics);
            if (a->second) out.push_back(std::string(private_prefix) + hs + "." + hg);
        }
    }
    if (out.empty()) out.emplace_back(no_reader_topic);  // stored for replay, subscribed by no one
    return out;
}

std::size_t router::active_selectors() const {
    std::shared_lock lock(mu_);
    return active_.size();
}

std::size_t router::active_pairs() const {
    std::shared_lock lock(mu_);
    std::size_t n = 0;
    for (const auto& [hs, m] : pairs_) n += m.size();
    return n;
}

}  // namespace ssehub::mercure
