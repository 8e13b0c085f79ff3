// connect_proxy_auth: the backend's answer decides admission (connect_proxy.hpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // Asio's awaitable frames, as in connection.cpp
#endif
#include "ssehub/connect_proxy.hpp"

#include "ssehub/http_client.hpp"
#include "ssehub/json_value.hpp"
#include "ascii.hpp"

#include <asio/this_coro.hpp>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <memory>
#include <stdexcept>

namespace ssehub {
namespace {

using ssehub::detail::ascii::trim_ows;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

auth_outcome refused(int status, std::string reason) {
    auth_outcome o;
    o.status = status;
    o.log_reason = std::move(reason);
    return o;
}

// A failure: 503, or admitted as requested (allow_on_failure).
auth_outcome failure(std::string reason, const connect_proxy_options& options) {
    auth_outcome o = refused(options.allow_on_failure ? 0 : 503, "connect proxy: " + std::move(reason));
    return o;
}

// A metadata value: a string as is, a number as its JSON text.
bool metadata_text(const json::value& v, std::string& out) {
    if (v.is_string()) out = v.as_string();
    else if (v.is_number()) out = v.number_text();
    else return false;
    return true;
}

bool string_list(const json::value& v, std::vector<std::string>& out) {
    if (!v.is_array()) return false;
    for (const auto& item : v.as_array()) {
        if (!item.is_string()) return false;
        out.push_back(item.as_string());
    }
    return true;
}

struct proxy_state {
    connect_proxy_options options;
    http::url url;
    std::atomic<std::size_t> in_flight{0};
};

asio::awaitable<auth_outcome> ask(std::shared_ptr<proxy_state> st, const http::request& req) {
    const connect_proxy_options& o = st->options;
    if (st->in_flight.fetch_add(1, std::memory_order_acq_rel) >= o.concurrency) {
        st->in_flight.fetch_sub(1, std::memory_order_acq_rel);
        co_return refused(503, "connect proxy: " + std::to_string(o.concurrency) + " calls in flight");
    }
    struct release {
        proxy_state& s;
        ~release() { s.in_flight.fetch_sub(1, std::memory_order_acq_rel); }
    } guard{*st};
    http::client_options co;
    co.timeout = o.timeout;
    co.max_body_bytes = o.max_answer_bytes;
    co.ca_file = o.ca_file;
    std::error_code ec;
    const auto res =
        co_await http::async_request(st->url, "POST", "application/json", connect_proxy_request(req, o), co, ec);
    if (ec) co_return failure(ec.message(), o);
    if (res.status != 200) co_return failure("answered " + std::to_string(res.status), o);
    co_return connect_proxy_answer(res.body, o, std::chrono::system_clock::now());
}

}  // namespace

std::string connect_proxy_request(const http::request& request, const connect_proxy_options& options) {
    json::object headers;
    for (const auto& name : options.headers)
        if (const std::string* v = request.find(name)) headers.emplace_back(lower(name), *v);
    json::object cookies;
    if (!options.cookies.empty()) {
        for (const auto& h : request.headers) {
            if (lower(h.name) != "cookie") continue;
            std::string_view rest = h.value;
            while (!rest.empty()) {  // name=value; name2=value2
                const auto semi = rest.find(';');
                const std::string_view pair = trim_ows(rest.substr(0, semi));
                rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
                const auto eq = pair.find('=');
                if (eq == std::string_view::npos) continue;
                const std::string_view name = trim_ows(pair.substr(0, eq));
                bool wanted = false;
                for (const auto& c : options.cookies) wanted = wanted || c == name;
                bool seen = false;
                for (const auto& m : cookies) seen = seen || m.first == name;
                if (wanted && !seen) cookies.emplace_back(std::string(name), std::string(trim_ows(pair.substr(eq + 1))));
            }
        }
    }
    json::array topics;
    if (auto raw = request.query_param("topics"))
        for (auto& t : http::split_list(*raw)) topics.emplace_back(std::move(t));
    json::object body;
    body.emplace_back("remote", request.remote);
    body.emplace_back("method", request.method);
    body.emplace_back("path", request.path());
    body.emplace_back("query", request.query());
    body.emplace_back("topics", std::move(topics));
    body.emplace_back("headers", std::move(headers));
    body.emplace_back("cookies", std::move(cookies));
    return json::serialize(json::value(std::move(body)));
}

auth_outcome connect_proxy_answer(std::string_view body, const connect_proxy_options& options,
                                  std::chrono::system_clock::time_point now) {
    json::parse_options po;
    po.max_bytes = options.max_answer_bytes;
    po.max_depth = 8;
    json::value doc;
    std::string why;
    if (!json::parse(body, doc, &why, po)) return failure("answer is not JSON: " + why, options);
    if (!doc.is_object()) return failure("answer is not a JSON object", options);
    if (const json::value* err = doc.find("error")) {
        if (!err->is_object()) return failure("`error` is not an object", options);
        int status = 403;
        if (const json::value* s = err->find("status")) {
            const auto n = s->as_int64();
            if (!n || *n < 400 || *n > 499) return failure("`error.status` is not 400..499", options);
            status = static_cast<int>(*n);
        }
        std::string reason = "denied";
        if (const json::value* r = err->find("reason"); r && r->is_string()) reason = "denied: " + r->as_string();
        return refused(status, "connect proxy: " + reason);
    }
    const json::value* result = doc.find("result");
    if (!result || !result->is_object()) return failure("answer has neither `result` nor `error` object", options);
    auth_outcome out;
    std::string text;
    if (const json::value* v = result->find("meta")) {
        if (!v->is_object()) return failure("`result.meta` is not an object", options);
        for (const auto& [k, mv] : v->as_object()) {
            if (!metadata_text(mv, text)) return failure("`result.meta." + k + "` is not a string or number", options);
            out.metadata[k] = text;
        }
    }
    if (const json::value* v = result->find("user")) {
        if (!metadata_text(*v, text)) return failure("`result.user` is not a string or number", options);
        out.metadata["sub"] = text;
    }
    if (const json::value* v = result->find("tenant")) {
        if (!metadata_text(*v, text)) return failure("`result.tenant` is not a string or number", options);
        out.metadata["tenant_id"] = text;
    }
    if (const json::value* v = result->find("topics")) {
        std::vector<std::string> topics;
        if (!string_list(*v, topics)) return failure("`result.topics` is not an array of strings", options);
        out.topics = std::move(topics);
    }
    if (const json::value* v = result->find("allowed_topics")) {
        std::vector<std::string> allowed;
        if (!string_list(*v, allowed)) return failure("`result.allowed_topics` is not an array of strings", options);
        out.allowed_topics = std::move(allowed);
    }
    if (const json::value* v = result->find("expire_at"); v && !v->is_null()) {
        const auto secs = v->as_int64();
        // Unix seconds up to 2200-01-01: the system clock counts nanoseconds
        // and ends in 2262, so a larger value would overflow converting
        // (found by fuzz_connect_proxy: 9800000000).
        constexpr std::int64_t max_expire_at = 7258118400;  // 2200-01-01T00:00:00Z
        if (!secs || *secs <= 0) return failure("`result.expire_at` is not a positive integer", options);
        if (*secs > max_expire_at) return failure("`result.expire_at` is past the year 2200", options);
        const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(*secs));
        if (at <= now) return refused(401, "connect proxy: expire_at has passed");
        out.expires = at;
    }
    return out;
}

authenticator connect_proxy_auth(connect_proxy_options options) {
    auto u = http::parse_url(options.url);
    if (!u || (u->scheme == "https" && !http::tls_supported()))
        throw std::invalid_argument(http::tls_supported()
                                        ? "connect proxy URL: expected http(s)://host[:port][/path]"
                                        : "connect proxy URL: expected http://host[:port][/path] (https needs OpenSSL)");
    if (options.concurrency == 0) throw std::invalid_argument("connect proxy: concurrency must be at least 1");
    auto st = std::make_shared<proxy_state>();
    st->options = std::move(options);
    st->url = std::move(*u);
    // Not a coroutine itself: the state travels as a parameter of `ask`.
    return [st](const http::request& req) { return ask(st, req); };
}

}  // namespace ssehub
