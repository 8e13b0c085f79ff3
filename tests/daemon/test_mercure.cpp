// ssehubd --mercure over real sockets: subscriptions by exact topic, URI
// template, URL pattern and `*`; private updates with and without a matching
// token; each token location and their precedence; publish errors and the
// reserved namespace; replay with lastEventID, Last-Event-ID and earliest.
// Non-delivery is shown by order, never by waiting: a subscriber that must
// not get update A gets a later update B as its next message.
#include "mercure_client.hpp"
#include "support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <string>

#ifdef SSEHUBD_TEST_MERCURE

using namespace daemon_test;

TEST_CASE("mercure: exact, template, URL pattern and * selectors; the publish answer", "[daemon][mercure]") {
    daemon_process d(mercure_args());
    mercure_subscriber tpl(d.port(), "topic=" + url_encode("https://t.test/books/{id}"));
    mercure_subscriber pat(d.port(), "match_urlpattern=" + url_encode("https://t.test/users/:id"));
    mercure_subscriber exact(d.port(), "match=" + url_encode("https://t.test/x") + "&match=other");
    mercure_subscriber all(d.port(), "topic=*");
    REQUIRE(tpl.s.connected());
    REQUIRE(pat.s.connected());
    REQUIRE(exact.s.connected());
    REQUIRE(all.s.connected());

    const auto r = mercure_post(d.port(), {{"topic", "https://t.test/books/1"}, {"id", "book-1"}, {"data", "line 1\n\nline 3"}});
    CHECK(r.status == 200);
    CHECK(r.header("Content-Type").starts_with("text/plain"));
    CHECK(r.body == "book-1");  // the caller's id, echoed
    REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/users/2"}, {"id", "user-2"}}).status == 200);
    REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/x"}, {"id", "x-1"}}).status == 200);
    REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/books/1/x"}, {"id", "no-one"}}).status == 200);
    const auto generated = mercure_post(d.port(), {{"topic", "https://t.test/books/2"}, {"topic", "other"}});
    REQUIRE(generated.status == 200);
    CHECK_FALSE(generated.body.empty());  // the hub's id

    const auto first = tpl.next();
    REQUIRE(first);
    CHECK(first->id == "book-1");
    CHECK(first->data == "line 1\n\nline 3");
    CHECK(tpl.next_id() == generated.body);  // not users/2, x-1 or books/1/x
    CHECK(pat.next_id() == "user-2");
    CHECK(exact.next_id() == "x-1");
    CHECK(exact.next_id() == generated.body);  // its alternate topic `other`
    CHECK(all.next_id() == "book-1");
    CHECK(all.next_id() == "user-2");
    CHECK(all.next_id() == "x-1");
    CHECK(all.next_id() == "no-one");
}

TEST_CASE("mercure: private updates reach only subscribers whose token matches", "[daemon][mercure]") {
    daemon_process d(mercure_args());
    const std::string sel = "topic=" + url_encode("https://t.test/books/{id}");
    mercure_subscriber reader(d.port(), sel, "Authorization: Bearer " + subscriber_token("https://t.test/books/1") + "\r\n");
    mercure_subscriber other(d.port(), sel, "Authorization: Bearer " + subscriber_token("https://t.test/books/2") + "\r\n");
    mercure_subscriber pattern(d.port(), sel,
                               "Authorization: Bearer " + subscriber_token("https://t.test/users/42/:rest*", "urlpattern") + "\r\n");
    mercure_subscriber anonymous(d.port(), sel);
    REQUIRE(reader.s.connected());
    REQUIRE(other.s.connected());
    REQUIRE(pattern.s.connected());
    REQUIRE(anonymous.s.connected());

    REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/books/1"}, {"private", ""}, {"id", "secret-1"}}).status == 200);
    // Alternate topic: the update is about books/3, readable by users/42's grant.
    REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/books/3"}, {"topic", "https://t.test/users/42/books/3"},
                               {"private", "on"}, {"id", "secret-3"}})
                .status == 200);
    REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/books/9"}, {"id", "public-9"}}).status == 200);

    CHECK(reader.next_id() == "secret-1");
    CHECK(reader.next_id() == "public-9");
    CHECK(other.next_id() == "public-9");
    CHECK(pattern.next_id() == "secret-3");
    CHECK(pattern.next_id() == "public-9");
    CHECK(anonymous.next_id() == "public-9");
}

TEST_CASE("mercure: token locations and their precedence", "[daemon][mercure]") {
    daemon_process d(mercure_args(false));  // no anonymous subscribers
    const std::string sel = "topic=" + url_encode("https://t.test/p");
    const std::string good = subscriber_token("*");
    const std::string forged = ssehub::sign_hs256(header_at, R"({"mercure":{"subscribe":["*"]}})", "wrong-key-0123456789");
    const std::string with_pub_key = ssehub::sign_hs256(header_jwt, R"({"mercure":{"subscribe":["*"]}})", pub_key);

    CHECK(get(d.port(), "/.well-known/mercure?" + sel).status == 401);  // anonymous refused
    CHECK(get(d.port(), "/.well-known/mercure?" + sel, "Authorization: Bearer " + forged + "\r\n").status == 401);
    CHECK(get(d.port(), "/.well-known/mercure?" + sel, "Authorization: Bearer " + with_pub_key + "\r\n").status == 401);
    // The header beats the cookie either way.
    CHECK(get(d.port(), "/.well-known/mercure?" + sel,
              "Authorization: Bearer " + forged + "\r\nCookie: mercureAuthorization=" + good + "\r\n")
              .status == 401);
    mercure_subscriber header(d.port(), sel,
                              "Authorization: Bearer " + good + "\r\nCookie: mercureAuthorization=" + forged + "\r\n");
    mercure_subscriber cookie(d.port(), sel, "Cookie: theme=dark; mercureAuthorization=" + good + "\r\n");
    mercure_subscriber draft_cookie(d.port(), sel, "Cookie: mercureAccessToken=" + good + "\r\n");
    mercure_subscriber query(d.port(), sel + "&authorization=" + good);
    mercure_subscriber access_token(d.port(), sel + "&access_token=" + good);
    for (auto* s : {&header, &cookie, &draft_cookie, &query, &access_token}) REQUIRE(s->s.connected());

    // A publisher's token in the cookie works too.
    REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/p"}, {"private", "on"}, {"id", "p1"}}, "",
                    "Cookie: mercureAuthorization=" + publisher_token() + "\r\n")
                .status == 200);
    // ...but not from a page of another origin (no CSRF through the cookie).
    CHECK(mercure_post(d.port(), {{"topic", "https://t.test/p"}, {"id", "csrf"}}, "",
                  "Origin: https://evil.test\r\nCookie: mercureAuthorization=" + publisher_token() + "\r\n")
              .status == 403);
    for (auto* s : {&header, &cookie, &draft_cookie, &query, &access_token}) CHECK(s->next_id() == "p1");
}

TEST_CASE("mercure: publish and subscribe errors, reserved namespace", "[daemon][mercure]") {
    daemon_process d(mercure_args());
    const std::vector<std::pair<std::string, std::string>> ok{{"topic", "https://t.test/a"}};

    auto no_token = mercure_post(d.port(), ok, "");
    CHECK(no_token.status == 401);
    CHECK(no_token.header("WWW-Authenticate").starts_with("Bearer"));
    auto forged = mercure_post(d.port(), ok, ssehub::sign_hs256(header_jwt, R"({"mercure":{"publish":["*"]}})", sub_key));
    CHECK(forged.status == 401);  // a subscriber key does not sign publishers' tokens
    CHECK(forged.header("WWW-Authenticate").find("invalid_token") != std::string::npos);
    CHECK(mercure_post(d.port(), ok, ssehub::sign_hs256(header_jwt, R"({"mercure":{"publish":[1]}})", pub_key)).status == 401);
    const auto narrow = publisher_token(R"(["https://t.test/books/{id}"])");
    auto scope = mercure_post(d.port(), {{"topic", "https://t.test/books/1"}, {"topic", "https://t.test/users/1"}}, narrow);
    CHECK(scope.status == 403);  // every topic must be granted
    CHECK(scope.header("WWW-Authenticate").find("insufficient_scope") != std::string::npos);
    CHECK(mercure_post(d.port(), {{"topic", "https://t.test/books/1"}}, narrow).status == 200);

    CHECK(mercure_post(d.port(), {{"data", "no topic"}}).status == 400);
    CHECK(mercure_post(d.port(), {{"topic", "*"}}).status == 400);
    CHECK(mercure_post(d.port(), {{"topic", "a"}, {"id", "#frag"}}).status == 400);
    CHECK(mercure_post(d.port(), {{"topic", "a"}, {"id", "earliest"}}).status == 400);
    CHECK(mercure_post(d.port(), {{"topic", "a"}, {"type", "mercure"}}).status == 400);
    CHECK(mercure_post(d.port(), {{"topic", "a"}, {"type", "x\ny"}}).status == 400);
    CHECK(mercure_post(d.port(), {{"topic", "a"}, {"retry", "1s"}}).status == 400);
    CHECK(mercure_post(d.port(), {{"topic", "a"}, {"retry", "1500"}, {"type", "t"}, {"unknown", "ignored"}}).status == 200);
    CHECK(mercure_post(d.port(), {{"topic", "/.well-known/mercure/subscriptions/x"}}).status == 403);
    CHECK(mercure_post(d.port(), {{"topic", "a"}, {"topic", "https://evil.test/.well-known/%6Dercure"}}).status == 403);
    CHECK(mercure_post(d.port(), {{"topic", "https://t.test/.well-known/mercurex"}}).status == 200);
    std::vector<std::pair<std::string, std::string>> many;
    for (int i = 0; i < 65; ++i) many.emplace_back("topic", "t" + std::to_string(i));
    CHECK(mercure_post(d.port(), many).status == 413);  // over --max-topics (64)
    CHECK(post(d.port(), "/.well-known/mercure", R"({"topic":"a"})",
               "Content-Type: application/json\r\nAuthorization: Bearer " + publisher_token() + "\r\n")
              .status == 400);
    CHECK(request(d.port(), "DELETE", "/.well-known/mercure").status == 405);
    CHECK(get(d.port(), "/.well-known/mercure/subscriptions").status == 404);  // without --mercure-subscriptions

    CHECK(get(d.port(), "/.well-known/mercure").status == 400);                       // no selector
    CHECK(get(d.port(), "/.well-known/mercure?match_regex=a").status == 400);         // unknown matcher type
    CHECK(get(d.port(), "/.well-known/mercure?Matches=a&topic=b").status == 400);     // the reserved `match` prefix
    CHECK(get(d.port(), "/.well-known/mercure?match_urlpattern=" + url_encode("https://t.test/(a")).status == 400);
    CHECK(get(d.port(), "/.well-known/mercure?topic=" + url_encode("https://t.test/{id")).status == 400);
}

TEST_CASE("mercure: replay with lastEventID, Last-Event-ID, last_event_id and earliest", "[daemon][mercure]") {
    const bool sqlite = GENERATE(false, true);  // the memory replayer, then --replay-db
    INFO((sqlite ? "--replay-db" : "memory"));
    test::temp_dir dir;
    auto args = mercure_args();
    if (sqlite) {
        args.push_back("--replay-db");
        args.push_back(dir.file("replay.db"));
    }
    daemon_process d(args);
    const std::string exact = "topic=" + url_encode("https://t.test/r");
    const std::string tpl = "topic=" + url_encode("https://t.test/tpl/{id}");
    {
        // A template subscriber leaves; what is published meanwhile is kept for it.
        mercure_subscriber gone(d.port(), tpl);
        REQUIRE(gone.s.connected());
        REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/tpl/0"}, {"id", "t0"}}).status == 200);
        REQUIRE(gone.next_id() == "t0");
    }
    REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/r"}, {"id", "r1"}}).status == 200);
    REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/r"}, {"id", "r2"}}).status == 200);
    REQUIRE(mercure_post(d.port(), {{"topic", "https://t.test/tpl/1"}, {"id", "t1"}}).status == 200);

    mercure_subscriber query(d.port(), exact + "&lastEventID=r1");
    CHECK(query.s.c.head().find("Last-Event-ID: r1") != std::string::npos);
    CHECK(query.s.c.head().find("Mercure-Last-Event-ID: r1") != std::string::npos);
    CHECK(query.next_id() == "r2");
    mercure_subscriber header(d.port(), exact, "Last-Event-ID: r1\r\n");
    CHECK(header.next_id() == "r2");
    mercure_subscriber draft(d.port(), exact + "&last_event_id=r1");
    CHECK(draft.next_id() == "r2");
    mercure_subscriber earliest(d.port(), exact + "&lastEventID=earliest");
    CHECK(earliest.next_id() == "r1");
    CHECK(earliest.next_id() == "r2");
    mercure_subscriber back(d.port(), tpl + "&lastEventID=t0");
    CHECK(back.next_id() == "t1");
}

TEST_CASE("mercure: the subscriptions API and subscription events", "[daemon][mercure]") {
    auto args = mercure_args();
    args.push_back("--mercure-subscriptions");
    daemon_process d(args);
    const std::string api_selector = "/.well-known/mercure/subscriptions{/topic}{/subscriber}";
    const std::string admin = ssehub::sign_hs256(header_jwt, R"({"mercure":{"subscribe":[")" + api_selector + R"("]}})", sub_key);
    const std::string auth = "Authorization: Bearer " + admin + "\r\n";
    mercure_subscriber watcher(d.port(), "topic=" + url_encode(api_selector), auth);
    REQUIRE(watcher.s.connected());

    const std::string token = ssehub::sign_hs256(
        header_jwt, R"({"mercure":{"subscribe":["https://t.test/books/1"],"payload":{"user":"u1"}}})", sub_key);
    const std::string topic = "https://t.test/books/{id}";
    std::optional<mercure_subscriber> sub;
    sub.emplace(d.port(), "topic=" + url_encode(topic), "Authorization: Bearer " + token + "\r\n");
    REQUIRE(sub->s.connected());
    const std::string id = sub->s.connection_id;

    // The watcher hears of it (its own subscription may come first).
    auto event_for = [&](bool active) {
        for (int i = 0; i < 4; ++i) {
            auto e = watcher.next();
            if (!e) break;
            const auto j = nlohmann::json::parse(e->data);
            if (j.value("subscriber", "") == id && j.value("active", !active) == active) return j;
        }
        return nlohmann::json();
    };
    const auto up = event_for(true);
    REQUIRE(up.is_object());
    CHECK(up["topic"] == topic);
    CHECK(up["type"] == "Subscription");
    CHECK(up["payload"]["user"] == "u1");
    CHECK(up["id"] == "/.well-known/mercure/subscriptions/" + url_encode(topic) + "/" + id);

    const auto all = get(d.port(), "/.well-known/mercure/subscriptions", auth);
    REQUIRE(all.status == 200);
    CHECK(all.header("Content-Type") == "application/ld+json");
    const auto list = nlohmann::json::parse(all.body);
    CHECK(list["type"] == "Subscriptions");
    CHECK(list["subscriptions"].size() == 2);  // the watcher's and sub's
    const auto one_topic = nlohmann::json::parse(
        get(d.port(), "/.well-known/mercure/subscriptions/" + url_encode(topic), auth).body);
    REQUIRE(one_topic["subscriptions"].size() == 1);
    CHECK(one_topic["subscriptions"][0]["subscriber"] == id);
    const auto one = get(d.port(), "/.well-known/mercure/subscriptions/" + url_encode(topic) + "/" + id, auth);
    REQUIRE(one.status == 200);
    CHECK(nlohmann::json::parse(one.body)["active"] == true);
    CHECK(get(d.port(), "/.well-known/mercure/subscriptions/" + url_encode(topic) + "/nobody", auth).status == 404);
    CHECK(get(d.port(), "/.well-known/mercure/subscriptions").status == 401);
    CHECK(get(d.port(), "/.well-known/mercure/subscriptions", "Authorization: Bearer " + token + "\r\n").status == 403);

    sub.reset();  // the subscriber leaves
    const auto down = event_for(false);
    REQUIRE(down.is_object());
    CHECK(down["topic"] == topic);
}

#endif  // SSEHUBD_TEST_MERCURE
