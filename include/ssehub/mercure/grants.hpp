// What a Mercure token allows: the selectors of its `publish` and
// `subscribe` grants and its subscription payloads, read from a verified
// JWT's claims in either form:
//  - released protocol: {"mercure": {"publish": [selectors], "subscribe":
//    [selectors], "payload": any}}, each selector `*`, an exact topic or a
//    URI template;
//  - draft (RFC 9068 access tokens): {"authorization_details": [{"type":
//    "https://mercure.rocks/authorization-detail", "actions": ["publish",
//    "subscribe"], "topics": [{"match": "...", "match_type": "exact" |
//    "urlpattern"}], "payload": {...}}]}.
// A token with both uses both. The checks are the protocol's: a publisher
// needs a grant for every topic of an update; a subscriber receives a
// private update when one of its subscribe grants matches one of the
// update's topics.
// Thread safety: an immutable value after read_grants; const members are
// safe from any thread.
#pragma once

#include "ssehub/mercure/selector.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ssehub::mercure {

struct grant_limits {
    std::size_t max_selectors = 128;  // publish + subscribe selectors of one token; more: the token is refused
    std::size_t max_payload_bytes = 4096;  // serialized payload of one grant
};

struct grants {
    std::vector<selector> publish;
    std::vector<selector> subscribe;
    // Subscription payloads: the first rule one of whose selectors matches
    // a subscription's own selector text gives its payload (JSON text).
    struct payload_rule {
        std::vector<selector> topics;
        std::string payload;
    };
    std::vector<payload_rule> payloads;

    // Every topic matched by some publish selector (false for no topics).
    bool may_publish(const std::vector<std::string>& topics) const;
    // Some topic matched by some subscribe selector.
    bool may_read_private(const std::vector<std::string>& topics) const;
    // The payload for a subscription whose selector text is `subscription`; nullopt: none.
    std::optional<std::string> payload_for(std::string_view subscription) const;
    // The subscribe selectors as one canonical text (keys joined by a NUL):
    // tokens with equal keys read the same private updates.
    std::string subscribe_key() const;
};

// The grants in `claims_json` (the JSON payload of a verified JWT). nullopt
// with *why when a Mercure claim is malformed (not the expected types, an
// invalid selector, an unknown match_type, over the limits): the protocol
// refuses such a token as a whole (401 invalid_token). A token without
// Mercure claims grants nothing (an empty value).
std::optional<grants> read_grants(std::string_view claims_json, const selector_limits& limits,
                                  const grant_limits& glimits = {}, std::string* why = nullptr);

// The Mercure draft's authorization detail type.
inline constexpr std::string_view authorization_detail_type = "https://mercure.rocks/authorization-detail";

}  // namespace ssehub::mercure
