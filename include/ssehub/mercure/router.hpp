// How Mercure subscriptions ride on the hub's topic routing, so fan-out
// stays a hash lookup per event and never a selector evaluation per
// connection:
//  - a subscription's selector S becomes the hub topic `mercure.s.<h(S)>`,
//    and, when its token has subscribe grants G, `mercure.p.<h(S)>.<h(G)>`
//    for private updates (h: 128 bits of SHA-256 of the selector's or the
//    grant set's key, in hex);
//  - an update is published to `mercure.s.<h>` for every selector that
//    matches one of its topics: each exact topic and `*` are computed
//    directly (always, so their replay is complete); URI templates and URL
//    patterns are evaluated once per update for each distinct one that a
//    connected subscriber uses (learnt from hub::watch_patterns), or used
//    within `linger`;
//  - a private update goes only to `mercure.p.<hS>.<hG>` pairs whose
//    selector matches and whose grant set allows reading it.
// So a subscriber gets an update at most once (the hub de-duplicates per
// event) and only when the protocol says so. docs/mercure.md.
// Thread safety: internally synchronised; every member is safe from any thread.
#pragma once

#include "ssehub/mercure/grants.hpp"
#include "ssehub/mercure/selector.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ssehub::mercure {

struct router_config {
    // A template, pattern or grant set whose last subscriber left is still
    // evaluated for this long, so a subscriber reconnecting with
    // Last-Event-ID within it replays what was published meanwhile. Match
    // it to the replayer's max_age.
    std::chrono::milliseconds linger{std::chrono::minutes(5)};
    // Selectors and grant sets remembered between a subscriber's
    // subscriber_topics() and the hub reporting its patterns; beyond this
    // the ones no connection uses are forgotten.
    std::size_t max_definitions = 100000;
    // Distinct templates and URL patterns evaluated per update at most (each
    // costs one RE2 match per update); a subscriber bringing a new one beyond
    // this is refused (subscriber_topics returns nothing).
    std::size_t max_evaluated = 10000;
    std::function<std::chrono::steady_clock::time_point()> clock;  // empty: steady_clock (tests inject)
};

class router {
public:
    explicit router(router_config cfg = {});

    // The hub topics a subscriber with these selectors (and, when it has a
    // token, its grants) subscribes to. Its templates, patterns and private
    // pairs are evaluated from this call on (so an update published before
    // the hub reports the connection still reaches it), and stay so while
    // the hub reports a subscriber, then for `linger`. Empty when a new
    // template or pattern would exceed max_evaluated.
    std::vector<std::string> subscriber_topics(const std::vector<selector>& selectors, const grants* token);

    // Give this to hub::watch_patterns: activates and deactivates templates,
    // patterns and grant sets as connections come and go. Patterns that are
    // not the router's are ignored.
    void on_pattern(const std::string& hub_pattern, bool up);

    // The hub topics an update with these Mercure topics is published to;
    // never empty (`mercure.none` for a private update no one may read now).
    std::vector<std::string> update_topics(const std::vector<std::string>& topics, bool is_private) const;

    // The hub topic of one selector (`mercure.s.<hash>`).
    static std::string selector_topic(const selector& s);
    static std::string hash(std::string_view key);  // 32 hex digits

    // Templates/patterns and (selector, grant set) pairs being evaluated.
    std::size_t active_selectors() const;
    std::size_t active_pairs() const;

private:
    using time_point = std::chrono::steady_clock::time_point;
    struct entry {
        std::shared_ptr<const selector> sel;
        std::shared_ptr<const grants> token;  // pairs only
        bool up = false;
        time_point down_since{};
    };
    time_point now() const;
    void expire(time_point t);  // under the unique lock

    router_config cfg_;
    mutable std::shared_mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<const selector>> selector_defs_;  // hash → selector
    std::unordered_map<std::string, std::shared_ptr<const grants>> grant_defs_;       // hash → grant set
    std::unordered_map<std::string, entry> active_;                                   // hS → template/pattern
    std::unordered_map<std::string, std::map<std::string, entry>> pairs_;             // hS → hG → pair
};

}  // namespace ssehub::mercure
