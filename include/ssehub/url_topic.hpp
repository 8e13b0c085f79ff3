// URL-derived topics: the same topic for a subscriber's request target and a
// publisher that knows the URL, so `/api/v1/devices?labels=a` and
// `?labels=b` are separate topics.
// Thread safety: stateless, safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ssehub {

// Path segments become tokens; the query (minus the reserved parameters
// lastEventId, token and ticket, and `topics`) becomes one last token `?k=v&...`
// with its pairs sorted, so parameter order does not matter. Every byte
// outside [A-Za-z0-9-_~!$'()+,;=:@] is percent-encoded, so no segment can
// become a wildcard or split a token. nullopt when the target is malformed or
// the topic is not valid (empty, over max_len).
std::optional<std::string> url_topic(std::string_view target, std::size_t max_len = 256);

}  // namespace ssehub
