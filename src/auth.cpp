#include "ssehub/auth.hpp"

#include "ssehub/json.hpp"
#include "ssehub/json_value.hpp"

#include "topic_token.hpp"

#include <memory>

namespace ssehub {
namespace {

std::vector<std::string_view> tokens(std::string_view s) {
    std::vector<std::string_view> out;
    for (std::size_t pos = 0; pos != std::string_view::npos;) out.push_back(detail::next_token(s, pos));
    return out;
}

auth_outcome reject(int status, std::string reason) {
    auth_outcome o;
    o.status = status;
    o.log_reason = std::move(reason);
    return o;
}

auth_outcome from_result(auth_result r) {
    auth_outcome o;
    o.metadata = std::move(r.metadata);
    o.allowed_topics = std::move(r.allowed_topics);
    o.expires = r.expires;
    return o;
}

bool default_decode(std::string_view value, auth_outcome& out) {
    json::value v;
    if (!json::parse(value, v) || !v.is_object()) return false;
    if (const auto* t = v.find("topics")) {
        if (!t->is_array()) return false;
        std::vector<std::string> topics;
        for (const auto& e : t->as_array()) {
            if (!e.is_string()) return false;
            topics.push_back(e.as_string());
        }
        out.topics = std::move(topics);
    }
    if (const auto* m = v.find("metadata")) {
        if (!m->is_object()) return false;
        for (const auto& [k, val] : m->as_object()) {
            if (!val.is_string()) return false;
            out.metadata[k] = val.as_string();
        }
    }
    return true;
}

// The atomic take that spends a ticket: true only for the one caller that
// removed it, still holding the value that was decoded. (Parameters by value:
// the frame owns them whatever happens to the callable that started it.)
asio::awaitable<bool> take_ticket(any_ticket_store store, std::string ticket, std::string decoded) {
    const auto taken = co_await store.async_take(ticket);
    co_return taken && *taken == decoded;
}

}  // namespace

bool pattern_covers(std::string_view allowed, std::string_view requested) {
    const auto a = tokens(allowed);
    const auto r = tokens(requested);
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] == ">") return i < r.size();  // one or more remaining tokens, whatever they are
        if (i >= r.size()) return false;
        if (a[i] == "*") {
            if (r[i] == ">") return false;  // `>` reaches deeper than one token
            continue;
        }
        if (a[i] != r[i]) return false;  // a literal covers only itself
    }
    return a.size() == r.size();
}

authenticator jwt_auth(token_validator validator) {
    auto v = std::make_shared<token_validator>(std::move(validator));
    return [v](const http::request& req) -> asio::awaitable<auth_outcome> {
        auto token = bearer_token(req);
        if (!token || token->empty()) co_return reject(401, "no token");
        auth_result r;
        if (auto ec = (*v)(*token, r)) co_return reject(401, "invalid token: " + ec.message());
        co_return from_result(std::move(r));
    };
}

authenticator jwt_auth(jwt_options options) {
    auto o = std::make_shared<jwt_options>(std::move(options));
    return [o](const http::request& req) -> asio::awaitable<auth_outcome> {
        auto token = bearer_token(req);
        if (!token || token->empty()) co_return reject(401, "no token");
        auth_result r;
        std::string why;
        if (auto ec = verify_jwt(*token, *o, r, &why)) co_return reject(401, "invalid token: " + (why.empty() ? ec.message() : why));
        co_return from_result(std::move(r));
    };
}

authenticator ticket_auth(any_ticket_store store, ticket_decoder decode) {
    auto state = std::make_shared<std::pair<any_ticket_store, ticket_decoder>>(std::move(store), std::move(decode));
    return [state](const http::request& req) -> asio::awaitable<auth_outcome> {
        auto ticket = req.query_param("ticket");
        if (!ticket || ticket->empty()) co_return reject(401, "no ticket");
        // Read, not taken: a request the hub refuses later (its topics) must
        // not spend the ticket. `consume` takes it once the hub admits.
        auto value = co_await state->first.async_get(*ticket);
        if (!value) co_return reject(401, "unknown, used or expired ticket");
        auth_outcome out;
        const bool ok = state->second ? state->second(*value, out) : default_decode(*value, out);
        if (!ok) co_return reject(401, "undecodable ticket");
        out.consume = [store = state->first, t = std::move(*ticket), v = std::move(*value)] {
            return take_ticket(store, t, v);
        };
        co_return out;
    };
}

std::string ticket_value(const std::vector<std::string>& topics, const ssehub::metadata& metadata) {
    std::string out = "{\"topics\":[";
    bool first = true;
    for (const auto& t : topics) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, t);
    }
    out += "],\"metadata\":{";
    first = true;
    for (const auto& [k, v] : metadata) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, k);
        out += ':';
        json::append_string(out, v);
    }
    out += "}}";
    return out;
}

}  // namespace ssehub
