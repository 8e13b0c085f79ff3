// Who publishes, as a request proved it (the unscoped --publisher-key, a
// --publisher-key-scoped key, a JWT with a `publish` claim, or nobody while
// publishing is open), and whether an event or a ticket is in its scope.
// Thread safety: a plain value type and pure functions. Distinct objects:
// safe. Shared objects: unsafe.
#pragma once

#include "api.hpp"

#include <ssehub/event.hpp>
#include <ssehub/http.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ssehubd {

struct publisher {
    // Names its rate bucket and log lines: "anonymous", "publisher-key", a
    // scoped key's name, "jwt" or "jwt:<sub>". Never the key.
    std::string name;
    bool scoped = false;
    std::vector<std::string> topics;   // scoped: patterns every topic must be covered by
    std::vector<std::string> tenants;  // scoped: when not empty, events must be scoped to one of these
};

// The key a request presents: X-Publisher-Key, else Authorization: Bearer
// (scheme case-insensitive); empty when none.
std::string_view presented_key(const ssehub::http::request& req);

// The password of `Authorization: Basic base64(user:password)` (what a
// browser sends after the /admin page's Basic challenge; the user name is
// ignored); empty when the header is not Basic or does not decode.
std::string basic_password(const ssehub::http::request& req);

// Why `p` may not publish `ev` (a 403 that names the field, never echoes
// the input and lists the key's scope), or nullopt when it may. Every topic
// must be covered (all or nothing); a key with tenants publishes only events
// whose group has tenant_id set to one of them.
std::optional<api::error> publish_refusal(const publisher& p, const ssehub::event& ev);

// The same for POST /tickets: the ticket's topic patterns must be covered,
// and with tenants its metadata must carry one of them as tenant_id.
std::optional<api::error> ticket_refusal(const publisher& p, const std::vector<std::string>& topics, const ssehub::metadata& meta);

}  // namespace ssehubd
