// Where a Mercure client puts its token, in the order ssehub looks:
//  1. `Authorization: Bearer <token>` (scheme case-insensitive);
//  2. the `authorization` query parameter (the released hub's), then
//     `access_token` (RFC 6750's; the draft no longer accepts query tokens:
//     turn both off with allow_query = false);
//  3. the cookies `mercureAuthorization` (released), `mercureAccessToken`
//     and `__Secure-mercure_access_token` (draft), the first present.
// The header beats a cookie, as both protocol versions ask; a cookie is
// ambient, so it never overrides what the client chose to send.
// Thread safety: a pure function, safe from any thread.
#pragma once

#include "ssehub/http.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace ssehub::mercure {

struct found_token {
    std::string token;
    std::string_view where;  // "header", "query", "cookie"
};

std::optional<found_token> find_token(const http::request& req, bool allow_query = true);

// The value of cookie `name` in the request's Cookie headers (the first).
std::optional<std::string> cookie(const http::request& req, std::string_view name);

}  // namespace ssehub::mercure
