// /metrics parsed line by line as Prometheus would, /stats, visibility
// ownership and CORS.
#include "daemon_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <regex>
#include <set>

using namespace daemon_test;
using json = nlohmann::json;

namespace {

struct sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

struct exposition {
    std::map<std::string, std::string> types;  // family -> type
    std::vector<sample> samples;
};

bool valid_metric_name(const std::string& s) {
    static const std::regex re("[a-zA-Z_:][a-zA-Z0-9_:]*");
    return std::regex_match(s, re);
}
bool valid_label_name(const std::string& s) {
    static const std::regex re("[a-zA-Z_][a-zA-Z0-9_]*");
    return std::regex_match(s, re);
}

std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s = suffix;
        if (name.size() > s.size() && name.ends_with(s)) {
            const auto base = name.substr(0, name.size() - s.size());
            auto it = types.find(base);
            if (it != types.end() && (it->second == "histogram" || it->second == "summary")) return base;
        }
    }
    return name;
}

// Parses the text format strictly; every problem fails the test with the line.
exposition parse_exposition(const std::string& text) {
    exposition out;
    std::set<std::string> helped, finished;
    std::string current;  // family whose samples we are in
    REQUIRE(!text.empty());
    REQUIRE(text.back() == '\n');
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto eol = text.find('\n', pos);
        const std::string line = text.substr(pos, eol - pos);
        pos = eol + 1;
        INFO("line: " << line);
        REQUIRE(!line.empty());
        if (line.starts_with("# HELP ")) {
            const auto rest = line.substr(7);
            const auto name = rest.substr(0, rest.find(' '));
            REQUIRE(valid_metric_name(name));
            REQUIRE(helped.insert(name).second);  // one HELP per family
            REQUIRE(rest.size() > name.size() + 1);
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            const auto rest = line.substr(7);
            const auto sp = rest.find(' ');
            const auto name = rest.substr(0, sp);
            const auto type = rest.substr(sp + 1);
            REQUIRE(helped.count(name) == 1);  // HELP came first
            REQUIRE(out.types.count(name) == 0);
            REQUIRE((type == "counter" || type == "gauge" || type == "histogram" || type == "summary" ||
                     type == "untyped"));
            out.types[name] = type;
            if (!current.empty()) finished.insert(current);
            current = name;
            continue;
        }
        REQUIRE(line[0] != '#');
        sample s;
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
        s.name = line.substr(0, i);
        REQUIRE(valid_metric_name(s.name));
        if (line[i] == '{') {
            ++i;
            while (line[i] != '}') {
                const auto eq = line.find('=', i);
                REQUIRE(eq != std::string::npos);
                const auto lname = line.substr(i, eq - i);
                REQUIRE(valid_label_name(lname));
                REQUIRE(line[eq + 1] == '"');
                std::string value;
                std::size_t j = eq + 2;
                for (;; ++j) {
                    REQUIRE(j < line.size());
                    if (line[j] == '"') break;
                    if (line[j] == '\\') {
                        ++j;
                        REQUIRE((line[j] == '\\' || line[j] == '"' || line[j] == 'n'));
                        value += line[j] == 'n' ? '\n' : line[j];
                    } else {
                        value += line[j];
                    }
                }
                REQUIRE(s.labels.emplace(lname, value).second);
                i = j + 1;
                if (line[i] == ',') ++i;
            }
            ++i;
        }
        REQUIRE(line[i] == ' ');
        const auto value = line.substr(i + 1);
        if (value == "+Inf") s.value = INFINITY;
        else {
            std::size_t used = 0;
            s.value = std::stod(value, &used);
            REQUIRE(used == value.size());
        }
        const auto fam = family_of(s.name, out.types);
        REQUIRE(out.types.count(fam) == 1);  // TYPE before samples
        REQUIRE(fam == current);             // a family's samples are together
        REQUIRE(finished.count(fam) == 0);
        out.samples.push_back(std::move(s));
    }
    return out;
}

std::optional<double> value_of(const exposition& e, const std::string& name,
                               const std::map<std::string, std::string>& labels = {}) {
    for (const auto& s : e.samples)
        if (s.name == name && s.labels == labels) return s.value;
    return std::nullopt;
}

}  // namespace

TEST_CASE("ssehubd: /metrics is valid Prometheus text with the documented families", "[daemon]") {
    daemon_process d({"--metrics-topic-series", "3"});
    const auto p = d.port();
    // A topic with a quote and a backslash (both valid in topics) tests label escaping.
    subscriber a(p, "/events?topics=q%22b%5Cc,orders");
    subscriber b(p, "/events?topics=orders,t1,t2,t3");
    REQUIRE(a.connected());
    REQUIRE(b.connected());
    REQUIRE(post(p, "/publish", R"({"topics":["orders"],"data":"x"})").status == 202);
    REQUIRE(a.wait_for("message"));
    REQUIRE(b.wait_for("message"));
    REQUIRE(post(p, "/publish", "{bad").status == 400);

    // Counters move when the writes complete, which may be just after the clients read.
    reply r;
    CHECK(test::poll_until([&] {
        r = get(p, "/metrics");
        return r.body.find("\nssehub_publish_to_write_seconds_count 2\n") != std::string::npos;
    }));
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type").starts_with("text/plain; version=0.0.4"));
    const auto e = parse_exposition(r.body);

    for (const char* fam :
         {"ssehub_connections_active", "ssehub_connections_paused", "ssehub_events_published_total",
          "ssehub_events_delivered_total", "ssehub_events_dropped_total", "ssehub_events_replayed_total",
          "ssehub_queue_fill_max", "ssehub_publish_to_write_seconds", "ssehub_topic_connections",
          "ssehub_slow_consumer_disconnects_total", "ssehubd_http_requests_total"}) {
        INFO(fam);
        CHECK(e.types.count(fam) == 1);
    }
    CHECK(e.types.at("ssehub_publish_to_write_seconds") == "histogram");
    CHECK(value_of(e, "ssehub_connections_active") == 2.0);
    CHECK(value_of(e, "ssehub_events_published_total") == 1.0);
    CHECK(value_of(e, "ssehub_events_delivered_total") == 2.0);
    for (const char* reason : {"queue_full", "slow_consumer", "paused", "expired"})
        CHECK(value_of(e, "ssehub_events_dropped_total", {{"reason", reason}}).has_value());

    // Histogram: cumulative buckets, +Inf equals the count, two writes measured.
    double last = 0;
    int buckets = 0;
    for (const auto& s : e.samples) {
        if (s.name != "ssehub_publish_to_write_seconds_bucket") continue;
        ++buckets;
        CHECK(s.value >= last);
        last = s.value;
    }
    CHECK(buckets > 5);
    CHECK(value_of(e, "ssehub_publish_to_write_seconds_bucket", {{"le", "+Inf"}}) == last);
    // Bounds are printed in their shortest round-tripping form, as Prometheus
    // clients print them: a query for le="0.00025" must find the bucket.
    CHECK(r.body.find(R"(ssehub_publish_to_write_seconds_bucket{le="0.00025"} )") != std::string::npos);
    CHECK(r.body.find(R"(ssehub_publish_to_write_seconds_bucket{le="0.0001"} )") != std::string::npos);
    CHECK(r.body.find(R"(ssehub_publish_to_write_seconds_bucket{le="5"} )") != std::string::npos);
    CHECK(r.body.find(R"(ssehub_publish_to_write_seconds_bucket{le="+Inf"} )") != std::string::npos);
    CHECK(value_of(e, "ssehub_publish_to_write_seconds_bucket", {{"le", "0.00025"}}).has_value());
    CHECK(value_of(e, "ssehub_publish_to_write_seconds_bucket", {{"le", "0.0001"}}).has_value());
    CHECK(value_of(e, "ssehub_publish_to_write_seconds_count") == last);
    CHECK(last == 2.0);

    // Per-topic series: at most 3, the most subscribed first; escaped labels round-trip.
    std::vector<std::string> topics;
    for (const auto& s : e.samples)
        if (s.name == "ssehub_topic_connections") topics.push_back(s.labels.at("topic"));
    REQUIRE(topics.size() == 3);
    CHECK(topics[0] == "orders");
    CHECK(value_of(e, "ssehub_topic_connections", {{"topic", "orders"}}) == 2.0);
    CHECK(r.body.find(R"(topic="q\"b\\c")") != std::string::npos);

    CHECK(value_of(e, "ssehubd_http_requests_total", {{"route", "/publish"}, {"code", "202"}}) == 1.0);
    CHECK(value_of(e, "ssehubd_http_requests_total", {{"route", "/publish"}, {"code", "400"}}) == 1.0);

    // Stable order: the same families in the same order on the next scrape.
    const auto again = parse_exposition(get(p, "/metrics").body);
    std::vector<std::string> order1, order2;
    for (const auto& s : e.samples)
        if (order1.empty() || order1.back() != s.name) order1.push_back(s.name);
    for (const auto& s : again.samples)
        if (order2.empty() || order2.back() != s.name) order2.push_back(s.name);
    CHECK(order1 == order2);
}

TEST_CASE("ssehubd: request routes in metrics stay bounded", "[daemon]") {
    daemon_process d({});
    for (int i = 0; i < 20; ++i) CHECK(get(d.port(), "/random/" + std::to_string(i)).status == 404);
    const auto e = parse_exposition(get(d.port(), "/metrics").body);
    std::set<std::string> routes;
    for (const auto& s : e.samples)
        if (s.name == "ssehubd_http_requests_total") routes.insert(s.labels.at("route"));
    CHECK(routes.count("other") == 1);
    CHECK(routes.size() <= 2);  // "other" and maybe "/metrics"
}

TEST_CASE("ssehubd: /stats is JSON aggregates; connection details need ?connections=1 and the key", "[daemon]") {
    daemon_process d({"--publisher-key", "pk"});
    const auto p = d.port();
    const std::string owner = "0123456789abcdef0123456789abcdef";
    subscriber s(p, "/events?topics=orders,users.*&owner=" + owner);
    REQUIRE(s.connected());
    auto open = get(p, "/stats");
    REQUIRE(open.status == 200);
    auto j = json::parse(open.body);
    CHECK(j["connections"]["active"] == 1);
    CHECK(j["draining"] == false);
    CHECK(j["topics"].size() == 2);
    CHECK(!j.contains("connection_details"));
    CHECK(open.body.find(s.connection_id) == std::string::npos);

    // The key alone does not ask for the list: a scrape stays small.
    auto keyed = json::parse(get(p, "/stats", "X-Publisher-Key: pk\r\n").body);
    CHECK(!keyed.contains("connection_details"));
    // Asking without the key (or with a wrong one) is refused.
    auto no_key = get(p, "/stats?connections=1");
    CHECK(no_key.status == 401);
    CHECK(no_key.body.find(s.connection_id) == std::string::npos);
    CHECK(get(p, "/stats?connections=1", "X-Publisher-Key: nope\r\n").status == 401);

    auto full = json::parse(get(p, "/stats?connections=1", "X-Publisher-Key: pk\r\n").body);
    REQUIRE(full.contains("connection_details"));
    REQUIRE(full["connection_details"].size() == 1);
    const auto& c = full["connection_details"][0];
    CHECK(c["id"] == s.connection_id);
    CHECK(c["topics"] == json::array({"orders", "users.*"}));
    CHECK(c["paused"] == false);
    CHECK(c.contains("sent"));
    CHECK(c.contains("dropped"));

    REQUIRE(post(p, "/events/visibility", json{{"connection_id", s.connection_id}, {"hidden", true}, {"owner", owner}}.dump())
                .status == 200);
    CHECK(test::poll_until([&] {
        auto k = json::parse(get(p, "/stats?connections=1", "Authorization: Bearer pk\r\n").body);
        return k["connection_details"].size() == 1 && k["connection_details"][0]["paused"] == true;
    }));
}

TEST_CASE("ssehubd: without --publisher-key /stats never lists connections", "[daemon]") {
    daemon_process d({});
    const auto p = d.port();
    subscriber s(p, "/events?topics=orders");
    REQUIRE(s.connected());
    auto open = get(p, "/stats");
    REQUIRE(open.status == 200);
    CHECK(!json::parse(open.body).contains("connection_details"));
    auto asked = get(p, "/stats?connections=1");
    CHECK(asked.status == 403);
    CHECK(asked.body.find(s.connection_id) == std::string::npos);
}

TEST_CASE("ssehubd: only the connection's owner may pause it", "[daemon]") {
    daemon_process d({});
    const auto p = d.port();
    const std::string owner = "0123456789abcdef0123456789abcdef";
    subscriber s(p, "/events?topics=orders&owner=" + owner);
    subscriber other(p, "/events?topics=orders");
    REQUIRE(s.connected());
    REQUIRE(other.connected());
    auto paused = [&] { return json::parse(get(p, "/stats").body)["connections"]["paused"].get<int>(); };

    const auto body = [&](std::string id, bool hidden, std::string who) {
        json j{{"connection_id", id}, {"hidden", hidden}};
        if (!who.empty()) j["owner"] = who;
        return j.dump();
    };
    CHECK(post(p, "/events/visibility", body(s.connection_id, true, "ffffffffffffffffffffffffffffffff")).status == 403);
    CHECK(post(p, "/events/visibility", body(s.connection_id, true, "")).status == 403);
    CHECK(post(p, "/events/visibility", body("00000000000000000000000000000000", true, owner)).status == 403);
    // A connection opened without an owner secret cannot be paused by anyone (auth none).
    CHECK(post(p, "/events/visibility", body(other.connection_id, true, owner)).status == 403);
    CHECK(paused() == 0);

    auto ok = post(p, "/events/visibility", body(s.connection_id, true, owner));
    CHECK(ok.status == 200);
    CHECK(json::parse(ok.body)["hidden"] == true);
    CHECK(test::poll_until([&] { return paused() == 1; }));

    // The form @ssehub/client sends.
    auto form = post(p, "/events/visibility", "connection_id=" + s.connection_id + "&owner=" + owner + "&paused=0",
                     "Content-Type: application/x-www-form-urlencoded;charset=UTF-8\r\n");
    CHECK(form.status == 200);
    CHECK(test::poll_until([&] { return paused() == 0; }));

    CHECK(post(p, "/events/visibility", "{").status == 400);
    CHECK(post(p, "/events/visibility", R"({"connection_id":"x"})").status == 400);
    CHECK(post(p, "/events/visibility", R"({"connection_id":"x","hidden":"yes"})").status == 400);
    CHECK(post(p, "/events/visibility", "owner=x&paused=1", "Content-Type: application/x-www-form-urlencoded\r\n")
              .status == 400);
    CHECK(d.log().find(owner) == std::string::npos);  // secrets stay out of the log
}

TEST_CASE("ssehubd: CORS for EventSource withCredentials from allowed origins", "[daemon]") {
    daemon_process d({"--cors-origins", "http://app.example, https://other.example:8443"});
    const auto p = d.port();

    subscriber s(p, "/events?topics=orders", "Origin: http://app.example\r\n");
    REQUIRE(s.connected());
    const auto head = s.c.head();
    CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(head.find("\r\nAccess-Control-Allow-Origin: http://app.example\r\n") != std::string::npos);
    CHECK(head.find("\r\nAccess-Control-Allow-Credentials: true\r\n") != std::string::npos);
    CHECK(head.find("\r\nContent-Type: text/event-stream\r\n") != std::string::npos);
    // The stream still works after the injected headers.
    REQUIRE(post(p, "/publish", R"({"topics":["orders"],"data":"hi"})").status == 202);
    auto ev = s.wait_for("message");
    REQUIRE(ev);
    CHECK(ev->data == "hi");

    subscriber evil(p, "/events?topics=orders", "Origin: http://evil.example\r\n");
    REQUIRE(evil.connected());
    CHECK(evil.c.head().find("Access-Control-Allow-Origin") == std::string::npos);

    auto pre = request(p, "OPTIONS", "/events/visibility", {},
                       "Origin: https://other.example:8443\r\nAccess-Control-Request-Method: POST\r\n");
    CHECK(pre.status == 204);
    CHECK(pre.header("Access-Control-Allow-Origin") == "https://other.example:8443");
    CHECK(pre.header("Access-Control-Allow-Methods").find("POST") != std::string::npos);
    CHECK(pre.header("Access-Control-Allow-Headers").find("Content-Type") != std::string::npos);
    // An admin page on another origin may end a connection (DELETE /connections/{id}).
    auto pre_delete = request(p, "OPTIONS", "/connections/abc", {},
                              "Origin: http://app.example\r\nAccess-Control-Request-Method: DELETE\r\n");
    CHECK(pre_delete.status == 204);
    CHECK(pre_delete.header("Access-Control-Allow-Methods").find("DELETE") != std::string::npos);
    CHECK(request(p, "OPTIONS", "/publish", {}, "Origin: http://evil.example\r\n").status == 403);

    auto health = get(p, "/healthz", "Origin: http://app.example\r\n");
    CHECK(health.header("Access-Control-Allow-Origin") == "http://app.example");
    CHECK(health.header("Access-Control-Allow-Credentials") == "true");
    CHECK(health.header("Vary") == "Origin");
    CHECK(get(p, "/healthz", "Origin: http://evil.example\r\n").header("Access-Control-Allow-Origin").empty());
    CHECK(get(p, "/healthz").header("Access-Control-Allow-Origin").empty());

    // A stream the hub refuses carries the CORS headers too (serve_options),
    // so the browser can read why.
    auto refused = get(p, "/events", "Origin: http://app.example\r\n");  // no topics
    CHECK(refused.status == 400);
    CHECK(refused.header("Access-Control-Allow-Origin") == "http://app.example");
    CHECK(refused.header("Access-Control-Allow-Credentials") == "true");
    auto bad_topic = get(p, "/events?topics=a%20b", "Origin: https://other.example:8443\r\n");
    CHECK(bad_topic.status == 400);
    CHECK(bad_topic.header("Access-Control-Allow-Origin") == "https://other.example:8443");
    // The daemon's own read errors as well (a head over --max-head is 431 from the library's reader).
    auto big = get(p, "/events?topics=a", "Origin: http://app.example\r\nX-Big: " + std::string(20000, 'a') + "\r\n");
    CHECK(big.status == 431);
}

TEST_CASE("ssehubd: without --cors-origins no CORS headers are sent", "[daemon]") {
    daemon_process d({});
    auto r = get(d.port(), "/healthz", "Origin: http://app.example\r\n");
    CHECK(r.header("Access-Control-Allow-Origin").empty());
    CHECK(request(d.port(), "OPTIONS", "/publish", {}, "Origin: http://app.example\r\n").status == 403);
}
