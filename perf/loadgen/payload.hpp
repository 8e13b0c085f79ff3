// What the load generator puts into each published event and reads back:
// a JSON object with a per-topic sequence number and the send time, padded to
// a chosen size, plus the URL and body templates that address a server.
// Thread safety: stateless free functions, safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ssehub::bench {

// Appends {"seq":SEQ,"ts":TS_NS,"pad":"xxx…"} with the padding chosen so the
// object is `size` bytes long when that is possible (never shorter than
// without padding).
void append_payload(std::string& out, std::uint64_t seq, std::uint64_t ts_ns, std::size_t size);

struct payload_fields {
    std::uint64_t seq = 0;
    std::uint64_t ts_ns = 0;
};

// Reads "seq" and "ts" back from an event's data, wherever the server put
// them in the object (servers may reorder or re-serialize members).
// nullopt when either is missing or not a non-negative integer.
std::optional<payload_fields> parse_payload(std::string_view data) noexcept;

// http://HOST[:PORT][/TARGET]; IPv6 hosts in brackets. TARGET defaults to "/".
struct url {
    std::string host;
    unsigned short port = 80;
    std::string target;
};
std::optional<url> parse_url(std::string_view text);

// Replaces every "{topic}" with `topic` and every "{payload}" with `payload`.
std::string expand(std::string_view tmpl, std::string_view topic, std::string_view payload = {});

}  // namespace ssehub::bench
