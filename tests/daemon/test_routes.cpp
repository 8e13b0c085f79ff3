// ssehubd over HTTP: flags, health, publish and the kill-polling routes,
// with their error cases.
#include <fstream>
#include "daemon_process.hpp"
#include "replies.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace daemon_test;
using json = nlohmann::json;

namespace {

// Runs ssehubd with these args and returns its exit code and output (stdout+stderr).
std::pair<int, std::string> run_to_end(const std::string& args) {
    const std::string cmd = std::string(SSEHUBD_PATH) + " " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p);
    std::string out;
    char buf[4096];
    while (const auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int st = ::pclose(p);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// Splits a byte stream of answers into the heads of the complete ones.
std::vector<std::string> whole_answers(std::string_view raw) {
    std::vector<std::string> heads;
    for (;;) {
        const auto end = raw.find("\r\n\r\n");
        if (end == std::string_view::npos) return heads;
        const std::string head(raw.substr(0, end + 4));
        const auto k = head.find("Content-Length: ");
        const std::size_t length = k == std::string::npos ? 0 : std::stoul(head.substr(k + 16));
        if (raw.size() < end + 4 + length) return heads;
        heads.push_back(head);
        raw.remove_prefix(end + 4 + length);
    }
}

}  // namespace

TEST_CASE("ssehubd: --help documents every flag and its environment variable", "[daemon]") {
    auto [code, out] = run_to_end("--help");
    CHECK(code == 0);
    for (const char* flag : {"--listen", "--auth", "--jwt-secret", "--jwt-public-key", "--jwt-jwks", "--jwt-issuer",
                             "--jwt-audience", "--jwt-leeway-s", "--publisher-key",
                             "--cors-origins", "--send-queue", "--heartbeat-ms", "--max-lifetime-ms", "--flush-ms",
                             "--max-connections", "--write-timeout-ms", "--max-head", "--replay-size",
                             "--replay-max-age-ms", "--drain-timeout-ms", "--no-demo", "--log-level",
                             "--metrics-topic-series", "--max-body", "--publisher-key-scoped", "--publisher-jwt",
                             "--admin-key", "--max-streams-per-ip", "--publish-rate", "--publish-burst"}) {
        INFO(flag);
        CHECK(out.find(flag) != std::string::npos);
    }
    CHECK(out.find("SSEHUBD_LISTEN") != std::string::npos);
    CHECK(out.find("SSEHUBD_PUBLISHER_KEY") != std::string::npos);
}

TEST_CASE("ssehubd: every flag in --help is documented in docs/daemon.md", "[daemon]") {
    auto [code, out] = run_to_end("--help");
    REQUIRE(code == 0);
    std::ifstream in(SSEHUB_DOCS_DIR "/daemon.md");
    REQUIRE(in);
    const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t flags = 0;
    for (std::size_t at = out.find("--"); at != std::string::npos; at = out.find("--", at + 2)) {
        if (at > 0 && !std::isspace(static_cast<unsigned char>(out[at - 1]))) continue;  // inside a word
        std::size_t end = at + 2;
        while (end < out.size() && (std::islower(static_cast<unsigned char>(out[end])) ||
                                    std::isdigit(static_cast<unsigned char>(out[end])) || out[end] == '-'))
            ++end;
        if (end == at + 2) continue;
        const std::string flag = out.substr(at, end - at);
        ++flags;
        INFO(flag);
        CHECK(doc.find("`" + flag) != std::string::npos);  // documented as `--flag ...`
    }
    CHECK(flags > 30);
}

TEST_CASE("ssehubd: bad flags exit 2 with a message", "[daemon]") {
    CHECK(run_to_end("--no-such-flag").first == 2);
    CHECK(run_to_end("--send-queue abc").first == 2);
    CHECK(run_to_end("--listen nope").first == 2);
    CHECK(run_to_end("--auth maybe").first == 2);
    auto [code, out] = run_to_end("--auth jwt");
    CHECK(code == 2);
    CHECK(out.find("jwt-secret") != std::string::npos);
    CHECK(run_to_end("--auth tickets").first == 2);  // tickets need a publisher key
    CHECK(run_to_end("--presence-ttl-ms 1000 --presence-refresh-ms 1000").first == 2);  // would expire between renewals
    // JetStream: needs --nats and a prefix; the stream name is checked at start.
    CHECK(run_to_end("--nats-jetstream").first == 2);
    CHECK(run_to_end("--nats-stream s").first == 2);
    CHECK(run_to_end("--nats nats://127.0.0.1:1 --nats-jetstream --nats-stream a.b").first == 2);
    CHECK(run_to_end("--redis-wait-replicas 1").first == 2);  // needs --redis or --redis-cluster
    CHECK(run_to_end("--redis redis://127.0.0.1:1 --redis-wait-timeout-ms 0").first == 2);
    // Every bound is checked at start, the HTTP/2 and admin ones included.
    for (const char* bad : {"--h2-max-streams 0", "--h2-max-header-list 100", "--h2-reset-burst 0",
                            "--h2-reset-rate x", "--max-presence-page 0", "--admin-reply-timeout-ms 0",
                            "--mercure-max-program-size 5", "--backend-ca-file /nonexistent/ca.pem",
                            "--admin-feed-interval-ms 10", "--admin-top 0", "--admin-max-streams 0"}) {
        INFO(bad);
        CHECK(run_to_end(bad).first == 2);
    }
}

TEST_CASE("ssehubd: port 0 prints the URL first, health routes answer", "[daemon]") {
    daemon_process d({});
    REQUIRE(d.first_line().starts_with("ssehubd listening on http://127.0.0.1:"));
    REQUIRE(d.port() != 0);

    auto h = get(d.port(), "/healthz");
    CHECK(h.status == 200);
    CHECK(body_json(h)["status"] == "ok");
    auto r = get(d.port(), "/readyz");
    CHECK(r.status == 200);
    CHECK(body_json(r)["status"] == "ready");
    CHECK(r.header("Connection").empty());  // HTTP/1.1: kept alive (see the keep-alive test)

    CHECK(get(d.port(), "/nope").status == 404);
    auto m = post(d.port(), "/healthz", "");
    CHECK(m.status == 405);
    CHECK(m.header("Allow") == "GET");
    auto pm = get(d.port(), "/publish");
    CHECK(pm.status == 405);
    CHECK(pm.header("Allow") == "POST");
    CHECK(post(d.port(), "/events", "").status == 405);
    CHECK(post(d.port(), "/publish/unknown", "{}").status == 404);
}

TEST_CASE("ssehubd: HTTP/1.1 keep-alive for publishers, bounded; pipelined bytes and HTTP/1.0 close", "[daemon]") {
    daemon_process d({"--keepalive-requests", "3"});
    const std::string body = R"({"topics":["ka"],"data":"1"})";
    const std::string publish =
        "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    test::client c;
    c.connect(d.port());
    for (std::size_t i = 1; i <= 3; ++i) {  // three requests on one connection; the third is told to close
        c.send(publish);
        REQUIRE(c.read_until([&] { return whole_answers(c.raw).size() == i; }, 20s));
        const auto answers = whole_answers(c.raw);
        INFO(c.raw);
        CHECK(answers.back().starts_with("HTTP/1.1 202"));
        CHECK((answers.back().find("Connection: close") != std::string::npos) == (i == 3));
        if (i < 3) CHECK(!c.eof());
    }
    CHECK(c.wait_closed(20s));

    // Bytes after a request (pipelining) are never parsed: one answer, then close.
    test::client p;
    p.connect(d.port());
    p.send(publish + publish);
    REQUIRE(p.wait_closed(20s));
    CHECK(p.status() == 202);
    CHECK(p.raw.find("Connection: close") != std::string::npos);
    CHECK(p.raw.find("HTTP/1.1", 10) == std::string::npos);

    // HTTP/1.0 gets one answer and a close.
    auto old = raw_request(d.port(), "GET /healthz HTTP/1.0\r\n\r\n");
    CHECK(old.status == 200);
    CHECK(old.header("Connection") == "close");
}

TEST_CASE("ssehubd: demo page and ssehub.js are embedded, --no-demo turns them off", "[daemon]") {
    {
        daemon_process d({});
        auto page = get(d.port(), "/");
        CHECK(page.status == 200);
        CHECK(page.header("Content-Type").starts_with("text/html"));
        CHECK(page.body.find("EventSource") != std::string::npos);
        CHECK(page.body.find("/publish/invalidate") != std::string::npos);
        CHECK(page.body.find("from '/ssehub.js'") != std::string::npos);
        // /ssehub.js: @ssehub/client's browser build (examples/web/ssehub-client.js).
        auto js = get(d.port(), "/ssehub.js");
        CHECK(js.status == 200);
        CHECK(js.header("Content-Type").starts_with("text/javascript"));
        CHECK(js.body.find("function getHub(") != std::string::npos);
        CHECK(js.body.find("\nexport {") != std::string::npos);
    }
    {
        daemon_process d({"--no-demo"});
        CHECK(get(d.port(), "/").status == 404);
        CHECK(get(d.port(), "/ssehub.js").status == 404);
    }
    {
        daemon_process d({}, {"SSEHUBD_NO_DEMO=1"});
        CHECK(get(d.port(), "/").status == 404);
    }
}

TEST_CASE("ssehubd: environment variables configure it, flags win", "[daemon]") {
    daemon_process d({"--publisher-key=from-flag"}, {"SSEHUBD_PUBLISHER_KEY=from-env", "SSEHUBD_MAX_BODY=100"});
    const std::string body = R"({"topics":["t"],"data":"x"})";
    CHECK(post(d.port(), "/publish", body, "X-Publisher-Key: from-env\r\n").status == 401);
    CHECK(post(d.port(), "/publish", body, "X-Publisher-Key: from-flag\r\n").status == 202);
    CHECK(post(d.port(), "/publish", std::string(101, ' '), "X-Publisher-Key: from-flag\r\n").status == 413);
}

TEST_CASE("ssehubd: POST /publish reaches subscribers and answers 202 {id, matched}", "[daemon]") {
    daemon_process d({});
    subscriber a(d.port(), "/events?topics=orders.*");
    subscriber b(d.port(), "/events?topics=orders.eu,other");
    REQUIRE(a.connected());
    REQUIRE(b.connected());

    auto r = post(d.port(), "/publish",
                  R"({"topics":["orders.eu"],"type":"created","data":{"id":1,"items":["a","b"]},"id":"ev-1"})");
    REQUIRE(r.status == 202);
    auto j = body_json(r);
    CHECK(j["id"] == "ev-1");
    CHECK(j["matched"] == 2);
    auto ev = a.wait_for("created");
    REQUIRE(ev);
    CHECK(ev->id == "ev-1");
    CHECK(json::parse(ev->data) == json::parse(R"({"id":1,"items":["a","b"]})"));
    REQUIRE(b.wait_for("created"));

    // A string is sent as is (several lines become several data lines).
    auto s = post(d.port(), "/publish", R"({"topics":["orders.us"],"data":"line one\nline two"})");
    REQUIRE(s.status == 202);
    auto sj = body_json(s);
    CHECK(sj["matched"] == 1);
    CHECK(!sj["id"].get<std::string>().empty());
    auto msg = a.wait_for("message");
    REQUIRE(msg);
    CHECK(msg->data == "line one\nline two");

    // Lanes, TTL and group are accepted.
    CHECK(post(d.port(), "/publish",
               R"({"topics":["orders.eu"],"type":"tick","priority":"coalesced","coalesce_key":"k","ttl_ms":60000})")
              .status == 202);
    CHECK(post(d.port(), "/publish", R"({"topics":["orders.eu"],"priority":"batched","data":1})").status == 202);
    auto g = post(d.port(), "/publish", R"({"topics":["orders.eu"],"group":{"tenant_id":"t1"},"data":1})");
    CHECK(g.status == 202);
    CHECK(body_json(g)["matched"] == 0);  // nobody has tenant_id=t1
}

TEST_CASE("ssehubd: POST /publish with a JSON array publishes a batch in order, all checked first", "[daemon]") {
    daemon_process d({"--max-batch-events", "3", "--publisher-key-scoped", "orders:orders-key-1:orders.>"});
    const std::string key = "X-Publisher-Key: orders-key-1\r\n";
    subscriber a(d.port(), "/events?topics=orders.>");
    REQUIRE(a.connected());

    auto r = post(d.port(), "/publish",
                  R"([{"topics":["orders.eu"],"type":"one","data":1},
                      {"topics":["orders.us","orders.eu"],"type":"two","id":"b-2"},
                      {"topics":["orders.none"],"type":"three","group":{"tenant_id":"t9"}}])",
                  key);
    REQUIRE(r.status == 202);
    auto j = body_json(r);
    REQUIRE(j["results"].size() == 3);
    CHECK(j["results"][0]["matched"] == 1);
    CHECK(j["results"][1]["id"] == "b-2");
    CHECK(j["results"][1]["matched"] == 1);
    CHECK(j["results"][2]["matched"] == 0);  // nobody in tenant t9
    REQUIRE(a.wait_for("two"));
    std::vector<std::string> types;
    for (const auto& e : a.c.events) types.push_back(e.type);
    CHECK(types == std::vector<std::string>{"connected", "one", "two"});
    CHECK(a.c.events[1].id == j["results"][0]["id"].get<std::string>());

    // One bad event refuses the whole batch, naming it; nothing is published.
    auto bad = post(d.port(), "/publish", R"([{"topics":["orders.eu"],"type":"x"},{"topics":["a..b"]}])", key);
    CHECK(bad.status == 400);
    CHECK(body_json(bad)["error"].get<std::string>().starts_with("[1].topics[0]"));
    auto scope = post(d.port(), "/publish", R"([{"topics":["orders.eu"],"type":"x"},{"topics":["users.1"]}])", key);
    CHECK(scope.status == 403);
    CHECK(body_json(scope)["error"].get<std::string>().starts_with("[1]"));
    CHECK(post(d.port(), "/publish", R"([{"topics":["orders.eu"],"type":"x"},5])", key).status == 400);
    CHECK(post(d.port(), "/publish", "[]", key).status == 400);
    auto big = post(d.port(), "/publish", R"([{"topics":["orders.eu"]},{"topics":["orders.eu"]},{"topics":["orders.eu"]},
                                             {"topics":["orders.eu"]}])", key);
    CHECK(big.status == 413);
    CHECK(body_json(big)["error"].get<std::string>().find("--max-batch-events") != std::string::npos);
    // The next event the subscriber sees is the marker: none of the refused batches went out.
    REQUIRE(post(d.port(), "/publish", R"({"topics":["orders.eu"],"type":"marker"})", key).status == 202);
    REQUIRE(a.wait_for("marker"));
    CHECK(a.c.events.size() == 4);
    CHECK(a.c.events[3].type == "marker");
}

TEST_CASE("ssehubd: POST /publish refuses bad bodies with 400 naming the field", "[daemon]") {
    daemon_process d({"--max-body", "2048"});
    const auto p = d.port();
    struct bad {
        const char* body;
        const char* field;  // expected in the message; "" for body-level errors
    };
    const bad cases[] = {
        {"{not json", "body"},
        {"[1,2]", "[0]"},  // a batch whose first element is no event
        {"\"text\"", "body"},
        {R"({"topics":"orders"})", "topics"},
        {R"({"topics":[1]})", "topics[0]"},
        {R"({"topics":["ok","a..b"]})", "topics[1]"},
        {R"({"topics":["orders.*"]})", "topics[0]"},  // wildcards are for subscribers
        {R"({"topics":["has space"]})", "topics[0]"},
        {R"({"topics":[]})", "topics"},
        {R"({})", "topics"},
        {R"({"topics":["t"],"type":5})", "type"},
        {R"({"topics":["t"],"type":"a\nb"})", "type"},
        {R"({"topics":["t"],"id":"a\rb"})", "id"},
        {R"({"topics":["t"],"priority":"urgent"})", "priority"},
        {R"({"topics":["t"],"priority":1})", "priority"},
        {R"({"topics":["t"],"ttl_ms":-1})", "ttl_ms"},
        {R"({"topics":["t"],"ttl_ms":"5"})", "ttl_ms"},
        {R"({"topics":["t"],"ttl_ms":1.5})", "ttl_ms"},
        {R"({"topics":["t"],"group":{"k":1}})", "group.k"},
        {R"({"topics":["t"],"group":[]})", "group"},
        {R"({"topics":["t"],"coalesce_key":{}})", "coalesce_key"},
        {R"({"topics":["t"],"topic":"typo"})", "topic"},
    };
    for (const auto& c : cases) {
        INFO(c.body);
        auto r = post(p, "/publish", c.body);
        CHECK(r.status == 400);
        auto j = body_json(r);
        const std::string msg = j["error"].get<std::string>();
        CHECK(msg.starts_with(c.field));
        CHECK(r.header("Content-Type") == "application/json");
    }
    // Deep nesting is refused before parsing.
    CHECK(post(p, "/publish", std::string(1000, '[') + std::string(1000, ']')).status == 400);
    // Invalid UTF-8 is malformed JSON.
    CHECK(post(p, "/publish", "{\"topics\":[\"t\"],\"data\":\"\xff\"}").status == 400);
}

TEST_CASE("ssehubd: body limits: 413 over --max-body, 411 without Content-Length, chunked refused", "[daemon]") {
    daemon_process d({"--max-body", "1024"});
    const auto p = d.port();
    const std::string big = R"({"topics":["t"],"data":")" + std::string(2000, 'x') + "\"}";
    auto r = post(p, "/publish", big);
    CHECK(r.status == 413);
    CHECK(body_json(r)["error"].get<std::string>().find("1024") != std::string::npos);
    // Announced but not sent: refused from the head alone.
    auto announced = raw_request(p, "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n");
    CHECK(announced.status == 413);

    auto no_length = raw_request(p, "POST /publish HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(no_length.status == 411);
    auto chunked =
        raw_request(p, "POST /publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    CHECK(chunked.status == 411);
    // Smuggling attempts never reach a handler.
    auto both = raw_request(
        p, "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello");
    CHECK(both.status == 400);
    auto twice = raw_request(p, "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
    CHECK(twice.status == 400);
    CHECK(raw_request(p, "GARBAGE\r\n\r\n").status == 400);
    // Head over --max-head.
    auto huge_head = raw_request(p, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n");
    CHECK(huge_head.status == 431);
    // The daemon still works.
    CHECK(post(p, "/publish", R"({"topics":["t"]})").status == 202);
}

TEST_CASE("ssehubd: a publisher key guards publish routes", "[daemon]") {
    daemon_process d({"--publisher-key", "s3cret-key"});
    const auto p = d.port();
    const std::string body = R"({"topics":["t"],"data":"x"})";
    auto missing = post(p, "/publish", body);
    CHECK(missing.status == 401);
    CHECK(missing.header("WWW-Authenticate").starts_with("Bearer"));
    CHECK(post(p, "/publish", body, "X-Publisher-Key: wrong\r\n").status == 401);
    CHECK(post(p, "/publish", body, "X-Publisher-Key: s3cret-ke\r\n").status == 401);
    CHECK(post(p, "/publish", body, "Authorization: Bearer nope\r\n").status == 401);
    CHECK(post(p, "/publish/signal", R"({"topic":"t"})").status == 401);
    CHECK(post(p, "/publish", body, "X-Publisher-Key: s3cret-key\r\n").status == 202);
    CHECK(post(p, "/publish", body, "Authorization: Bearer s3cret-key\r\n").status == 202);
    CHECK(post(p, "/publish/signal", R"({"topic":"t"})", "X-Publisher-Key: s3cret-key\r\n").status == 202);
    // The key is checked before the body: a bad body without the key is still 401.
    CHECK(post(p, "/publish", "{bad", "X-Publisher-Key: x\r\n").status == 401);
    CHECK(d.log().find("s3cret-key") == std::string::npos);
}

TEST_CASE("ssehubd: kill-polling routes publish what the C++ helpers publish", "[daemon]") {
    daemon_process d({"--flush-ms", "20", "--flush-min-ms", "5"});
    const auto p = d.port();
    subscriber s(d.port(), "/events?topics=orders,dashboard,import");
    REQUIRE(s.connected());

    auto inv = post(p, "/publish/invalidate",
                    R"({"resource":"orders","resource_id":"42","action":"updated","hint":{"status":"shipped","n":2}})");
    REQUIRE(inv.status == 202);
    CHECK(body_json(inv)["matched"] == 1);
    auto e = s.wait_for("invalidate");
    REQUIRE(e);
    auto ej = json::parse(e->data);
    CHECK(ej["resource"] == "orders");
    CHECK(ej["resource_id"] == "42");
    CHECK(ej["action"] == "updated");
    CHECK(ej["hint"]["status"] == "shipped");
    CHECK(ej["hint"]["n"] == 2);

    REQUIRE(post(p, "/publish/signal", R"({"topic":"dashboard"})").status == 202);
    auto sig = s.wait_for("signal");
    REQUIRE(sig);
    CHECK(json::parse(sig->data) == json::parse(R"({"signal":"refresh"})"));

    REQUIRE(post(p, "/publish/progress", R"({"resource":"import","resource_id":"imp_1","current":5,"total":10})").status ==
            202);
    auto prog = s.wait_for("progress");
    REQUIRE(prog);
    CHECK(json::parse(prog->data)["pct"] == 50);

    REQUIRE(post(p, "/publish/complete", R"({"resource":"import","resource_id":"imp_1","success":true})").status == 202);
    auto done = s.wait_for("complete");
    REQUIRE(done);
    CHECK(json::parse(done->data)["status"] == "completed");

    auto batch = post(p, "/publish/batch",
                      R"({"events":[{"resource":"orders","action":"deleted","resource_id":"7"},{"resource":"dashboard","action":"updated"}]})");
    REQUIRE(batch.status == 202);
    auto b = s.wait_for("batch");
    REQUIRE(b);
    auto bj = json::parse(b->data);
    REQUIRE(bj.is_array());
    CHECK(bj.size() == 2);
    CHECK(bj[0]["resource"] == "orders");
    // An empty batch publishes nothing.
    auto empty = post(p, "/publish/batch", R"({"events":[]})");
    CHECK(empty.status == 202);
    CHECK(body_json(empty)["matched"] == 0);

    // Tenant-scoped: this subscriber has no tenant_id, so nothing reaches it.
    auto scoped = post(p, "/publish/invalidate", R"({"tenant":"acme","resource":"orders","action":"created"})");
    CHECK(scoped.status == 202);
    CHECK(body_json(scoped)["matched"] == 0);
}

TEST_CASE("ssehubd: kill-polling routes refuse bad payloads naming the field", "[daemon]") {
    daemon_process d({});
    const auto p = d.port();
    struct bad {
        const char* route;
        const char* body;
        const char* field;
    };
    const bad cases[] = {
        {"/publish/invalidate", R"({"action":"x"})", "resource"},
        {"/publish/invalidate", R"({"resource":"a..b","action":"x"})", "resource"},
        {"/publish/invalidate", R"({"resource":"orders"})", "action"},
        {"/publish/invalidate", R"({"resource":"orders","action":"x","hint":[1]})", "hint"},
        {"/publish/invalidate", R"({"resource":"orders","action":"x","tenant":7})", "tenant"},
        {"/publish/signal", R"({})", "topic"},
        {"/publish/signal", R"({"topic":"x","ttl_ms":"1"})", "ttl_ms"},
        {"/publish/progress", R"({"resource":"import","resource_id":"i","current":"1","total":2})", "current"},
        {"/publish/progress", R"({"resource":"import","resource_id":"i","current":1})", "total"},
        {"/publish/complete", R"({"resource":"import","resource_id":"i","success":"yes"})", "success"},
        {"/publish/complete", R"({"resource":"import","success":true})", "resource_id"},
        {"/publish/batch", R"({"events":{}})", "events"},
        {"/publish/batch", R"({"events":[{"resource":"orders"}]})", "events[0].action"},
        {"/publish/batch", R"({"events":[{"resource":"o","action":"a"},{"resource":"","action":"a"}]})",
         "events[1].resource"},
        {"/publish/batch", R"({"events":[{"resource":"o","action":"a","extra":1}]})", "events[0].extra"},
        {"/publish/batch", R"({"events":[5]})", "events[0]"},
        {"/publish/signal", R"(nope)", "body"},
    };
    for (const auto& c : cases) {
        INFO(c.route << " " << c.body);
        auto r = post(p, c.route, c.body);
        CHECK(r.status == 400);
        CHECK(body_json(r)["error"].get<std::string>().starts_with(c.field));
    }
}

TEST_CASE("ssehubd: subscriptions with bad topics get 400", "[daemon]") {
    daemon_process d({"--max-topics", "2"});
    CHECK(get(d.port(), "/events").status == 400);
    CHECK(get(d.port(), "/events?topics=a..b").status == 400);
    CHECK(get(d.port(), "/events?topics=a,b,c").status == 400);
    subscriber ok(d.port(), "/events?topics=a,b");
    CHECK(ok.connected());
}

TEST_CASE("ssehubd: streams over --max-connections get 503, counted under /events", "[daemon]") {
    daemon_process d({"--max-connections", "1"});
    subscriber first(d.port(), "/events?topics=a");
    REQUIRE(first.connected());
    auto second = get(d.port(), "/events?topics=a");
    CHECK(second.status == 503);
    const auto metrics = get(d.port(), "/metrics").body;
    CHECK(metrics.find("ssehubd_http_requests_total{route=\"/events\",code=\"503\"} 1") != std::string::npos);
    CHECK(metrics.find("ssehubd_http_requests_total{route=\"/events\",code=\"200\"} 1") != std::string::npos);
}

TEST_CASE("ssehubd: --threads 3 spreads streams over three event loops; one order, one id, replay anywhere",
          "[daemon][shards]") {
    daemon_process d({"--threads", "3"});
    std::vector<std::unique_ptr<subscriber>> subs;
    for (int i = 0; i < 6; ++i) {  // accepted round-robin: two per loop
        subs.push_back(std::make_unique<subscriber>(d.port(), "/events?topics=orders"));
        REQUIRE(subs.back()->connected());
    }
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) {
        auto r = post(d.port(), "/publish", R"({"topics":["orders"],"data":)" + std::to_string(i) + "}");
        REQUIRE(r.status == 202);
        auto j = body_json(r);
        CHECK(j["matched"] == 6);  // counted over every shard
        ids.push_back(j["id"]);
    }
    for (auto& s : subs) {
        REQUIRE(s->c.wait_events(21, 20s));
        for (int i = 0; i < 20; ++i) {
            CHECK(s->c.events[static_cast<std::size_t>(i) + 1].data == std::to_string(i));
            CHECK(s->c.events[static_cast<std::size_t>(i) + 1].id == ids[static_cast<std::size_t>(i)]);
        }
    }
    // A reconnect with Last-Event-ID replays the rest, on whichever loop it lands.
    for (int k = 0; k < 3; ++k) {
        subscriber again(d.port(), "/events?topics=orders", "Last-Event-ID: " + ids[9] + "\r\n");
        REQUIRE(again.connected());
        REQUIRE(again.c.wait_events(11, 20s));
        for (int i = 10; i < 20; ++i)
            CHECK(again.c.events[static_cast<std::size_t>(i) - 9].id == ids[static_cast<std::size_t>(i)]);
    }
    // The gauge sums the shards (the replaying streams have left).
    CHECK(test::poll_until([&] { return get(d.port(), "/metrics").body.find("ssehub_connections_active 6\n") != std::string::npos; }));
}
