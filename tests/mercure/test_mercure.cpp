// ssehub::mercure: the selector table (exact, `*`, URI templates, URL
// patterns; matches and non-matches), the cost limit, token grants in the
// released and draft forms, and the router's hub topics.
#include <ssehub/mercure/grants.hpp>
#include <ssehub/mercure/router.hpp>
#include <ssehub/mercure/selector.hpp>
#include <ssehub/mercure/token.hpp>
#include <ssehub/jwt.hpp>
#include <ssehub/replay/memory_replayer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace ssehub::mercure;

namespace {

selector make(selector_kind kind, std::string_view text, const selector_limits& limits = {}) {
    std::string why;
    auto s = selector::parse(kind, text, limits, &why);
    INFO(text << ": " << why);
    REQUIRE(s);
    return *s;
}

struct row {
    selector_kind kind;
    const char* selector;
    const char* topic;
    bool match;
};

}  // namespace

TEST_CASE("mercure selectors: the match table", "[mercure]") {
    using k = selector_kind;
    const std::vector<row> table{
        // exact: byte for byte, case-sensitive, no normalisation
        {k::exact, "https://example.com/books/1", "https://example.com/books/1", true},
        {k::exact, "https://example.com/books/1", "https://example.com/books/10", false},
        {k::exact, "https://example.com/books/1", "https://EXAMPLE.com/books/1", false},
        {k::exact, "foo", "foo", true},
        {k::exact, "foo", "foo/", false},
        // `*`: every topic, whatever the kind
        {k::exact, "*", "anything at all", true},
        {k::url_pattern, "*", "urn:x", true},
        // URI templates (RFC 6570)
        {k::uri_template, "https://example.com/books/{id}", "https://example.com/books/1", true},
        {k::uri_template, "https://example.com/books/{id}", "https://example.com/books/", true},  // empty expansion
        {k::uri_template, "https://example.com/books/{id}", "https://example.com/books/1/x", false},
        {k::uri_template, "https://example.com/books/{id}", "https://example.com/users/1", false},
        {k::uri_template, "https://example.com/books/{id}.json", "https://example.com/books/a%20b.json", true},
        {k::uri_template, "https://example.com/{+path}", "https://example.com/a/b/c", true},
        {k::uri_template, "https://example.com/books{/id}", "https://example.com/books/7", true},
        {k::uri_template, "https://example.com/books{/id}", "https://example.com/books", true},
        {k::uri_template, "https://example.com/search{?q,lang}", "https://example.com/search?q=x&lang=fr", true},
        {k::uri_template, "https://example.com/search{?q}", "https://example.com/search?r=x&", false},
        {k::uri_template, "https://example.com/{a}/{b}", "https://example.com/1/2", true},
        {k::uri_template, "https://example.com/{a}/{b}", "https://example.com/1", false},
        // URL patterns (the draft's urlpattern)
        {k::url_pattern, "https://example.net/foo/:random", "https://example.net/foo/abc123", true},
        {k::url_pattern, "https://example.net/foo/:random", "https://example.net/foo/", false},
        {k::url_pattern, "https://example.net/foo/:random", "https://example.net/foo/a/b", false},
        {k::url_pattern, "https://example.net/bar/:var", "https://example.net/foo/will-not-match", false},
        {k::url_pattern, "https://example.net/foo/*", "https://example.net/foo/a/b", true},
        {k::url_pattern, "https://example.net/books/:id(\\d+)", "https://example.net/books/42", true},
        {k::url_pattern, "https://example.net/books/:id(\\d+)", "https://example.net/books/x42", false},
        {k::url_pattern, "https://example.net/books/:id?", "https://example.net/books", true},
        {k::url_pattern, "https://example.net/books/:id?", "https://example.net/books/9", true},
        {k::url_pattern, "https://:sub.example.net/x", "https://api.example.net/x", true},
        {k::url_pattern, "https://:sub.example.net/x", "https://a.b.example.net/x", false},
        {k::url_pattern, "https://example.net/{a,b}", "https://example.net/{a,b}", false},  // a group, not literal
        // relative patterns and topics resolve against the hub's URL
        {k::url_pattern, "/.well-known/mercure/subscriptions/:topic", "https://localhost/.well-known/mercure/subscriptions/t", true},
        {k::url_pattern, "/books/:id", "/books/3", true},
        {k::url_pattern, "https://localhost/books/:id", "/books/3", true},
        {k::url_pattern, "https://example.net/foo/:x", "raw-string", false},
    };
    for (const auto& r : table) {
        const selector s = make(r.kind, r.selector);
        INFO(to_string(r.kind) << " " << r.selector << " vs " << r.topic);
        CHECK(s.matches(r.topic) == r.match);
    }
}

TEST_CASE("mercure selectors: kinds, refusals and the cost limit", "[mercure]") {
    CHECK(selector::released_kind("*") == selector_kind::any);
    CHECK(selector::released_kind("https://e.com/{id}") == selector_kind::uri_template);
    CHECK(selector::released_kind("https://e.com/1") == selector_kind::exact);

    const selector_limits limits;
    std::string why;
    CHECK_FALSE(selector::parse(selector_kind::exact, "", limits, &why));
    CHECK_FALSE(selector::parse(selector_kind::exact, "a\nb", limits, &why));
    CHECK_FALSE(selector::parse(selector_kind::exact, "bad \xc3", limits, &why));
    CHECK_FALSE(selector::parse(selector_kind::exact, "c1 \xc2\x85", limits, &why));
    CHECK_FALSE(selector::parse(selector_kind::uri_template, "https://e.com/{id", limits, &why));
    CHECK_FALSE(selector::parse(selector_kind::uri_template, "https://e.com/{=id}", limits, &why));
    CHECK_FALSE(selector::parse(selector_kind::url_pattern, "https://e.com/(a", limits, &why));
    CHECK_FALSE(selector::parse(selector_kind::url_pattern, "https://e.com/:x((?=a))", limits, &why));  // no lookahead in RE2
    selector_limits short_limits;
    short_limits.max_length = 8;
    CHECK_FALSE(selector::parse(selector_kind::exact, "123456789", short_limits, &why));
    CHECK(why.find("longer") != std::string::npos);

    // A pathological pattern costs a large program: refused, not evaluated.
    selector_limits tight;
    tight.max_program_size = 100;
    CHECK(selector::parse(selector_kind::url_pattern, "https://e.com/:a", tight));
    CHECK_FALSE(selector::parse(selector_kind::url_pattern, "https://e.com/(a{1,100}){1,100}", tight, &why));
    CHECK(why.find("too complex") != std::string::npos);
    // Linear time: a classic catastrophic-backtracking shape matches at once.
    const auto evil = make(selector_kind::url_pattern, "https://e.com/((a|a)*)b");
    CHECK_FALSE(evil.matches("https://e.com/" + std::string(5000, 'a')));
}

TEST_CASE("mercure grants: released claims", "[mercure]") {
    const selector_limits limits;
    std::string why;
    const auto g = read_grants(R"({"mercure":{"publish":["https://e.com/books/{id}"],"subscribe":["https://e.com/users/1","*"],"payload":{"user":1}}})",
                               limits, {}, &why);
    REQUIRE(g);
    CHECK(g->may_publish({"https://e.com/books/1"}));
    CHECK(g->may_publish({"https://e.com/books/1", "https://e.com/books/2"}));
    CHECK_FALSE(g->may_publish({"https://e.com/books/1", "https://e.com/users/1"}));  // every topic
    CHECK_FALSE(g->may_publish({}));
    CHECK(g->may_read_private({"anything"}));  // subscribe: *
    REQUIRE(g->payload_for("https://e.com/x"));
    CHECK(*g->payload_for("https://e.com/x") == R"({"user":1})");

    const auto sub_only = read_grants(R"({"mercure":{"subscribe":["https://e.com/users/1"]}})", limits);
    REQUIRE(sub_only);
    CHECK_FALSE(sub_only->may_publish({"https://e.com/users/1"}));
    CHECK(sub_only->may_read_private({"https://e.com/books/1", "https://e.com/users/1"}));  // one topic is enough
    CHECK_FALSE(sub_only->may_read_private({"https://e.com/users/2"}));

    const auto none = read_grants(R"({"sub":"x"})", limits);
    REQUIRE(none);
    CHECK(none->publish.empty());
    CHECK_FALSE(none->may_read_private({"a"}));

    CHECK_FALSE(read_grants(R"({"mercure":{"publish":"*"}})", limits, {}, &why));
    CHECK_FALSE(read_grants(R"({"mercure":{"subscribe":[1]}})", limits, {}, &why));
    CHECK_FALSE(read_grants(R"({"mercure":{"subscribe":["{unclosed"]}})", limits, {}, &why));
    grant_limits few;
    few.max_selectors = 2;
    CHECK_FALSE(read_grants(R"({"mercure":{"subscribe":["a","b","c"]}})", limits, few, &why));
}

TEST_CASE("mercure grants: draft authorization_details", "[mercure]") {
    const selector_limits limits;
    std::string why;
    const auto g = read_grants(R"({"authorization_details":[
        {"type":"https://mercure.rocks/authorization-detail","actions":["publish"],"topics":[{"match":"*"}]},
        {"type":"https://mercure.rocks/authorization-detail","actions":["subscribe","future-action"],
         "topics":[{"match":"https://e.com/users/42/*","match_type":"urlpattern"}],"payload":{"tenant":"a"}},
        {"type":"https://other.example/detail","actions":["x"]}]})",
                               limits, {}, &why);
    INFO(why);
    REQUIRE(g);
    CHECK(g->may_publish({"a", "b"}));
    CHECK(g->may_read_private({"https://e.com/books/1", "https://e.com/users/42/books/1"}));
    CHECK_FALSE(g->may_read_private({"https://e.com/books/1"}));
    CHECK(g->payload_for("https://e.com/users/42/x") == std::optional<std::string>(R"({"tenant":"a"})"));
    CHECK_FALSE(g->payload_for("https://e.com/other"));

    // Any malformed Mercure detail refuses the whole token.
    CHECK_FALSE(read_grants(R"({"authorization_details":[{"type":"https://mercure.rocks/authorization-detail","actions":[],"topics":[{"match":"*"}]}]})", limits, {}, &why));
    CHECK_FALSE(read_grants(R"({"authorization_details":[{"type":"https://mercure.rocks/authorization-detail","actions":["publish"],"topics":[{"match":"x","match_type":"regex"}]}]})", limits, {}, &why));
    CHECK(why.find("regex") != std::string::npos);
    CHECK_FALSE(read_grants(R"({"authorization_details":[{"type":"https://mercure.rocks/authorization-detail","actions":["publish"],"topics":["x"]}]})", limits, {}, &why));
    CHECK_FALSE(read_grants(R"({"authorization_details":{}})", limits, {}, &why));
}

TEST_CASE("mercure router: hub topics for subscribers and updates", "[mercure]") {
    auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    router_config cfg;
    cfg.linger = std::chrono::seconds(10);
    cfg.clock = [&] { return now; };
    router r(cfg);
    const selector_limits limits;

    auto contains = [](const std::vector<std::string>& v, const std::string& x) {
        return std::find(v.begin(), v.end(), x) != v.end();
    };
    const auto exact = make(selector_kind::exact, "https://e.com/books/1");
    const auto any = make(selector_kind::any, "*");
    const auto tpl = make(selector_kind::uri_template, "https://e.com/books/{id}");

    // Exact and `*` need no registration: every public update carries them.
    auto pub = r.update_topics({"https://e.com/books/1"}, false);
    CHECK(contains(pub, router::selector_topic(exact)));
    CHECK(contains(pub, router::selector_topic(any)));
    CHECK_FALSE(contains(pub, router::selector_topic(tpl)));

    // A template is evaluated from its subscriber's subscribe on (before
    // the hub reports the connection), and while the hub reports one.
    const auto topics = r.subscriber_topics({tpl}, nullptr);
    REQUIRE(topics.size() == 1);
    CHECK(topics[0] == router::selector_topic(tpl));
    CHECK(r.active_selectors() == 1);
    CHECK(contains(r.update_topics({"https://e.com/books/7"}, false), topics[0]));
    now += std::chrono::seconds(5);
    r.on_pattern(topics[0], true);
    now += std::chrono::seconds(20);  // reported up: no linger runs
    CHECK(r.active_selectors() == 1);
    CHECK(contains(r.update_topics({"https://e.com/books/7"}, false), topics[0]));
    CHECK_FALSE(contains(r.update_topics({"https://e.com/users/7"}, false), topics[0]));
    // Its last subscriber leaves: still evaluated during the linger, then forgotten.
    r.on_pattern(topics[0], false);
    CHECK(contains(r.update_topics({"https://e.com/books/7"}, false), topics[0]));
    now += std::chrono::seconds(11);
    r.on_pattern("unrelated.topic", true);
    CHECK(r.active_selectors() == 0);

    // Private: only (selector, grant set) pairs whose grants match a topic.
    const auto reader = read_grants(R"({"mercure":{"subscribe":["https://e.com/books/1"]}})", limits);
    const auto other = read_grants(R"({"mercure":{"subscribe":["https://e.com/books/2"]}})", limits);
    REQUIRE(reader);
    REQUIRE(other);
    const auto t1 = r.subscriber_topics({any}, &*reader);
    const auto t2 = r.subscriber_topics({any}, &*other);
    REQUIRE(t1.size() == 2);
    REQUIRE(t2.size() == 2);
    CHECK(t1[0] == t2[0]);  // the same public topic
    CHECK(t1[1] != t2[1]);  // different private pairs
    for (const auto& t : t1) r.on_pattern(t, true);
    for (const auto& t : t2) r.on_pattern(t, true);
    CHECK(r.active_pairs() == 2);
    const auto priv = r.update_topics({"https://e.com/books/1"}, true);
    CHECK(priv == std::vector<std::string>{t1[1]});
    CHECK_FALSE(contains(priv, t1[0]));  // never on a public topic
    // Alternate topics: one granted topic is enough.
    CHECK(r.update_topics({"https://e.com/x", "https://e.com/books/2"}, true) == std::vector<std::string>{t2[1]});
    // A bound on the templates and patterns evaluated per update.
    router_config one_cfg;
    one_cfg.max_evaluated = 1;
    router small(one_cfg);
    CHECK(small.subscriber_topics({tpl}, nullptr).size() == 1);
    CHECK(small.subscriber_topics({tpl, exact}, nullptr).size() == 2);  // the same template again: fine
    CHECK(small.subscriber_topics({make(selector_kind::url_pattern, "https://e.com/:x")}, nullptr).empty());
    CHECK(small.subscriber_topics({exact, any}, nullptr).size() == 2);  // exact and * cost nothing
    // Nobody may read it: a topic no one subscribes.
    CHECK(r.update_topics({"https://e.com/books/3"}, true) == std::vector<std::string>{"mercure.none"});
}

TEST_CASE("mercure: the hub's reserved namespace", "[mercure]") {
    const std::string hub = "https://hub.example.com/.well-known/mercure";
    CHECK(in_reserved_namespace("https://hub.example.com/.well-known/mercure", hub));
    CHECK(in_reserved_namespace("https://other.example/.well-known/mercure/subscriptions/x", hub));  // any host
    CHECK(in_reserved_namespace("/.well-known/mercure/subscriptions", hub));
    CHECK(in_reserved_namespace("/.well-known/%6Dercure/x", hub));               // %XX of unreserved decoded
    CHECK(in_reserved_namespace("/.well-known/mercure/../mercure/x", hub));     // dot segments removed
    CHECK(in_reserved_namespace("/x/../.well-known/mercure", hub));
    CHECK_FALSE(in_reserved_namespace("/.well-known/mercurex", hub));
    CHECK_FALSE(in_reserved_namespace("https://example.com/books/1", hub));
    CHECK_FALSE(in_reserved_namespace("urn:uuid:1234", hub));
    CHECK_FALSE(in_reserved_namespace("foo", hub));  // resolves to /.well-known/foo
}

TEST_CASE("mercure: token locations and their precedence", "[mercure]") {
    auto request = [](std::string target, std::vector<ssehub::http::header> headers) {
        ssehub::http::request r;
        r.method = "GET";
        r.target = std::move(target);
        r.headers = std::move(headers);
        return r;
    };
    const ssehub::http::header cookie{"Cookie", "a=b; mercureAuthorization=from-cookie; c=d"};
    const ssehub::http::header bearer{"Authorization", "bearer  from-header"};
    auto t = find_token(request("/.well-known/mercure?topic=x&authorization=from-query", {cookie, bearer}));
    REQUIRE(t);
    CHECK(t->token == "from-header");  // the header wins over everything
    t = find_token(request("/.well-known/mercure?topic=x&authorization=from-query", {cookie}));
    REQUIRE(t);
    CHECK(t->token == "from-query");
    CHECK(t->where == "query");
    t = find_token(request("/.well-known/mercure?topic=x&authorization=from-query", {cookie}), false);
    REQUIRE(t);
    CHECK(t->token == "from-cookie");  // query tokens off: the cookie
    t = find_token(request("/?access_token=at", {}));
    REQUIRE(t);
    CHECK(t->token == "at");
    t = find_token(request("/", {{"Cookie", "mercureAccessToken=draft"}}));
    REQUIRE(t);
    CHECK(t->token == "draft");
    CHECK_FALSE(find_token(request("/", {{"Authorization", "Basic abc"}})));
    CHECK(ssehub::mercure::cookie(request("/", {{"Cookie", "x=\"quoted\""}}), "x") == std::optional<std::string>("quoted"));
}

TEST_CASE("mercure: what the library gives it (at+jwt, claims, earliest)", "[mercure]") {
    ssehub::jwt_options o;
    o.secret = "0123456789abcdef0123456789abcdef";
    const std::string payload = R"({"sub":"u","mercure":{"subscribe":["*"]}})";
    const auto at = ssehub::sign_hs256(R"({"alg":"HS256","typ":"at+jwt"})", payload, o.secret);
    const auto app = ssehub::sign_hs256(R"({"alg":"HS256","typ":"application/AT+JWT"})", payload, o.secret);
    ssehub::auth_result who;
    CHECK(ssehub::verify_jwt(at, o, who));  // default types: JWT only
    o.types = {"JWT", "at+jwt"};
    CHECK_FALSE(ssehub::verify_jwt(at, o, who));
    CHECK(who.claims.empty());  // not kept unless asked
    o.keep_claims = true;
    CHECK_FALSE(ssehub::verify_jwt(app, o, who));  // "application/" and case ignored
    CHECK(who.claims == payload);
    const auto g = read_grants(who.claims, {});
    REQUIRE(g);
    CHECK(g->may_read_private({"x"}));

    ssehub::memory_replayer_config rc;
    rc.earliest_id = "earliest";
    ssehub::memory_replayer r(rc);
    for (const char* id : {"a", "b"}) {
        ssehub::stored_event ev;
        ev.id = id;
        ev.bytes = std::make_shared<const std::string>(std::string("id: ") + id + "\n\n");
        ev.topics = {"t"};
        ev.at = std::chrono::steady_clock::now();
        r.store(std::move(ev));
    }
    auto all = r.replay("earliest", {"t"}, {}, 10);
    CHECK(all.known);
    REQUIRE(all.events.size() == 2);
    CHECK(all.events[0].id == "a");
    auto after = r.replay("a", {"t"}, {}, 10);
    REQUIRE(after.events.size() == 1);
    CHECK(after.events[0].id == "b");
    ssehub::memory_replayer plain;  // earliest_id empty: an unknown id
    CHECK_FALSE(plain.replay("earliest", {"t"}, {}, 10).known);
}
