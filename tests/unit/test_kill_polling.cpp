// Kill-polling payloads and free functions: exact payloads, event routing fields, hint values,
// and tenant isolation over real loopback sockets.
#include "support/harness.hpp"

#include <ssehub/kill_polling.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace std::string_literals;
namespace kp = ssehub::kill_polling;
using hint = kp::hint;
using hint_value = kp::hint_value;

namespace {

using test::wait_active;

std::string value_json(const hint_value& v) {
    std::string out;
    v.append_to(out);
    return out;
}

ssehub::metadata tenant(std::string t) { return {{"tenant_id", std::move(t)}}; }

}  // namespace

TEST_CASE("invalidate payload and event", "[kill_polling]") {
    CHECK(kp::invalidate_payload("orders", "ord_1", "created") ==
          R"({"resource":"orders","action":"created","resource_id":"ord_1"})");
    CHECK(kp::invalidate_payload("orders", "", "refresh") == R"({"resource":"orders","action":"refresh"})");
    CHECK(kp::invalidate_payload("orders", "ord_1", "created", {}) ==
          R"({"resource":"orders","action":"created","resource_id":"ord_1"})");
    CHECK(kp::invalidate_payload("orders", "ord_1", "created", {{"total", 149.99}, {"customer", "John Doe"}}) ==
          R"({"resource":"orders","action":"created","resource_id":"ord_1","hint":{"total":149.99,"customer":"John Doe"}})");

    const auto ev = kp::invalidate_event("orders", "ord_1", "created");
    CHECK(ev.type == "invalidate");
    CHECK(ev.topics == std::vector<std::string>{"orders"});
    CHECK(ev.lane == ssehub::priority::instant);
    CHECK(ev.group.empty());
    CHECK(ev.ttl == 0ms);
    CHECK(ev.id.empty());
    CHECK(ev.data == R"({"resource":"orders","action":"created","resource_id":"ord_1"})");

    const auto t = kp::invalidate_for_tenant_event("t1", "orders", "ord_1", "created", {{"n", 2}});
    CHECK(t.type == "invalidate");
    CHECK(t.topics == std::vector<std::string>{"orders"});
    CHECK(t.lane == ssehub::priority::instant);
    CHECK(t.group == tenant("t1"));
    CHECK(t.data == R"({"resource":"orders","action":"created","resource_id":"ord_1","hint":{"n":2}})");

    // An empty tenant on a *_for_tenant call fails closed: it is still a group.
    CHECK(kp::invalidate_for_tenant_event("", "orders", "", "x").group == tenant(""));
}

TEST_CASE("domain_event is an invalidate, tenant-scoped only with a tenant", "[kill_polling]") {
    const auto g = kp::domain_event("products", "updated", "p_9", "");
    CHECK(g.type == "invalidate");
    CHECK(g.group.empty());
    CHECK(g.topics == std::vector<std::string>{"products"});
    CHECK(g.lane == ssehub::priority::instant);
    CHECK(g.data == R"({"resource":"products","action":"updated","resource_id":"p_9"})");

    const auto t = kp::domain_event("orders", "created", "ord_123", "t_456", {{"total", 99.99}, {"customer", "John"}});
    CHECK(t.group == tenant("t_456"));
    CHECK(t.data ==
          R"({"resource":"orders","action":"created","resource_id":"ord_123","hint":{"total":99.99,"customer":"John"}})");
}

TEST_CASE("signal payloads, coalescing keys and ttl", "[kill_polling]") {
    CHECK(kp::signal_payload() == R"({"signal":"refresh"})");
    const auto s = kp::signal_event("dashboard");
    CHECK(s.type == "signal");
    CHECK(s.data == R"({"signal":"refresh"})");
    CHECK(s.topics == std::vector<std::string>{"dashboard"});
    CHECK(s.lane == ssehub::priority::coalesced);
    CHECK(s.coalesce_key == R"(signal:"dashboard")");
    CHECK(s.group.empty());
    CHECK(s.ttl == 0ms);

    const auto t = kp::signal_for_tenant_event("t1", "dashboard");
    CHECK(t.lane == ssehub::priority::coalesced);
    CHECK(t.coalesce_key == R"(signal:"dashboard":"t1")");
    CHECK(t.group == tenant("t1"));
    CHECK(t.data == R"({"signal":"refresh"})");

    const auto th = kp::signal_event("analytics", 60s);
    CHECK(th.ttl == 60000ms);
    CHECK(th.lane == ssehub::priority::coalesced);
    CHECK(th.coalesce_key == R"(signal:"analytics")");

    // Keys cannot collide whatever the names hold.
    CHECK(kp::signal_for_tenant_event("b:c", "a").coalesce_key !=
          kp::signal_for_tenant_event("c", "a:b").coalesce_key);
}

TEST_CASE("batch: specs in order, topics first-seen, empty publishes nothing", "[kill_polling]") {
    const std::vector<kp::domain_event_spec> specs{
        {"orders", "created", "ord_1", {{"total", 10}}},
        {"inventory", "updated", "sku_1", {}},
        {"orders", "updated", "ord_0", {}},
        {"dashboard", "refresh", "", {}},
    };
    const auto ev = kp::batch_event("t1", specs);
    REQUIRE(ev);
    CHECK(ev->type == "batch");
    CHECK(ev->lane == ssehub::priority::instant);
    CHECK(ev->topics == std::vector<std::string>{"orders", "inventory", "dashboard"});
    CHECK(ev->group == tenant("t1"));
    CHECK(ev->data ==
          R"([{"resource":"orders","action":"created","resource_id":"ord_1","hint":{"total":10}},)"
          R"({"resource":"inventory","action":"updated","resource_id":"sku_1"},)"
          R"({"resource":"orders","action":"updated","resource_id":"ord_0"},)"
          R"({"resource":"dashboard","action":"refresh"}])");
    CHECK(kp::batch_event("", specs)->group.empty());
    CHECK_FALSE(kp::batch_event("t1", {}));
    CHECK(kp::batch_payload({}) == "[]");
}

TEST_CASE("progress: numbers as numbers, pct clamped, coalesced per resource and id", "[kill_polling]") {
    CHECK(kp::progress_payload("imp_1", 50, 200) == R"({"resource_id":"imp_1","current":50,"total":200,"pct":25})");
    CHECK(kp::progress_payload("imp_1", 1, 3) == R"({"resource_id":"imp_1","current":1,"total":3,"pct":33})");
    CHECK(kp::progress_payload("imp_1", 5, 0) == R"({"resource_id":"imp_1","current":5,"total":0,"pct":0})");
    CHECK(kp::progress_payload("imp_1", 5, -1) == R"({"resource_id":"imp_1","current":5,"total":-1,"pct":0})");
    CHECK(kp::progress_payload("imp_1", 150, 100) == R"({"resource_id":"imp_1","current":150,"total":100,"pct":100})");
    CHECK(kp::progress_payload("imp_1", -3, 100) == R"({"resource_id":"imp_1","current":-3,"total":100,"pct":0})");

    CHECK(kp::progress_pct(0, 10) == 0);
    CHECK(kp::progress_pct(9999, 10000) == 99);
    CHECK(kp::progress_pct(10000, 10000) == 100);
    constexpr auto big = std::numeric_limits<std::int64_t>::max();
    CHECK(kp::progress_pct(big, big) == 100);
    CHECK(kp::progress_pct(big / 2, big) == 49);  // no overflow in 100 * current
    CHECK(kp::progress_pct(big - 1, big) == 99);
    CHECK(kp::progress_pct(std::numeric_limits<std::int64_t>::min(), big) == 0);

    const auto ev = kp::progress_event("import", "imp_1", "t1", 7, 10);
    CHECK(ev.type == "progress");
    CHECK(ev.topics == std::vector<std::string>{"import"});
    CHECK(ev.lane == ssehub::priority::coalesced);
    CHECK(ev.coalesce_key == R"(progress:"import":"imp_1":"t1")");
    CHECK(ev.group == tenant("t1"));
    CHECK(ev.data == R"({"resource_id":"imp_1","current":7,"total":10,"pct":70})");

    const auto g = kp::progress_event("import", "imp_1", "", 1, 2);
    CHECK(g.group.empty());
    CHECK(g.coalesce_key == R"(progress:"import":"imp_1")");
    CHECK(kp::progress_event("import", "imp_2", "", 1, 2).coalesce_key != g.coalesce_key);
    CHECK(kp::progress_event("export", "imp_1", "", 1, 2).coalesce_key != g.coalesce_key);
}

TEST_CASE("hint keys never overwrite fixed keys", "[kill_polling]") {
    const hint h{{"pct", 1}, {"rows", 42}, {"current", "x"}, {"rows", 43}, {"resource_id", "evil"}, {"total", 0}};
    CHECK(kp::progress_payload("imp_1", 5, 10, h) ==
          R"({"resource_id":"imp_1","current":5,"total":10,"pct":50,"rows":42})");

    CHECK(kp::complete_payload("imp_1", true) == R"({"resource_id":"imp_1","status":"completed"})");
    CHECK(kp::complete_payload("imp_1", false, {{"status", "completed"}, {"error", "CSV parse failed at row 42"}}) ==
          R"({"resource_id":"imp_1","status":"failed","error":"CSV parse failed at row 42"})");
    const auto c = kp::complete_event("import", "imp_1", "t1", true, {{"rows", 10000}});
    CHECK(c.type == "complete");
    CHECK(c.lane == ssehub::priority::instant);
    CHECK(c.topics == std::vector<std::string>{"import"});
    CHECK(c.group == tenant("t1"));
    CHECK(c.data == R"({"resource_id":"imp_1","status":"completed","rows":10000})");
    CHECK(kp::complete_event("import", "imp_1", "", true).group.empty());

    // Inside invalidate's nested "hint" there are no fixed keys, only repeats.
    CHECK(kp::invalidate_payload("orders", "", "x", {{"resource", "r"}, {"a", 1}, {"a", 2}}) ==
          R"({"resource":"orders","action":"x","hint":{"resource":"r","a":1}})");
}

TEST_CASE("JSON escaping of every caller string", "[kill_polling]") {
    const std::string nasty = "a\"b\\c\nd\re\tf\x01g\x1fh\x7f" "i";
    const std::string escaped = R"("a\"b\\c\nd\re\tf\u0001g\u001fh\u007fi")";
    CHECK(kp::invalidate_payload(nasty, nasty, nasty, {{nasty, nasty}}) ==
          "{\"resource\":" + escaped + ",\"action\":" + escaped + ",\"resource_id\":" + escaped + ",\"hint\":{" +
              escaped + ":" + escaped + "}}");
    CHECK(kp::progress_payload("x\"\n", 1, 2) == R"({"resource_id":"x\"\n","current":1,"total":2,"pct":50})");
    CHECK(kp::complete_payload("</script>", true) == R"({"resource_id":"</script>","status":"completed"})");

    // Unicode passes through as UTF-8; invalid bytes become U+FFFD.
    const std::string unicode = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80";
    CHECK(kp::complete_payload(unicode, true) == "{\"resource_id\":\"" + unicode + "\",\"status\":\"completed\"}");
    CHECK(kp::complete_payload("a\xff" "b", true) == "{\"resource_id\":\"a\xef\xbf\xbd" "b\",\"status\":\"completed\"}");
    // A payload is always one line: no raw CR or LF reaches the wire.
    CHECK(kp::invalidate_payload(nasty, nasty, nasty, {{nasty, hint_value::json("[\n1,\r\n2\n]")}})
              .find_first_of("\r\n") == std::string::npos);
}

TEST_CASE("hint values: numbers as numbers, validated raw JSON", "[kill_polling]") {
    CHECK(value_json(nullptr) == "null");
    CHECK(value_json({}) == "null");
    CHECK(value_json(true) == "true");
    CHECK(value_json(false) == "false");
    CHECK(value_json(0) == "0");
    CHECK(value_json(-42) == "-42");
    CHECK(value_json(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
    CHECK(value_json(std::numeric_limits<std::uint64_t>::max()) == "18446744073709551615");
    CHECK(value_json(std::size_t{7}) == "7");
    CHECK(value_json(149.99) == "149.99");
    CHECK(value_json(0.1f) == "0.10000000149011612");  // the float's exact double value, shortest form
    CHECK(value_json(1e300) == "1e+300");
    CHECK(value_json(-0.5) == "-0.5");
    CHECK(value_json(std::nan("")) == "null");
    CHECK(value_json(std::numeric_limits<double>::infinity()) == "null");
    CHECK(value_json("text") == R"("text")");
    CHECK(value_json(std::string("s\"")) == R"("s\"")");
    CHECK(value_json(std::string_view("sv")) == R"("sv")");
    CHECK(std::holds_alternative<std::int64_t>(hint_value(5).value()));
    CHECK(std::holds_alternative<std::uint64_t>(hint_value(5u).value()));
    CHECK(std::holds_alternative<bool>(hint_value(true).value()));

    // Pre-serialized JSON: validated, stored without insignificant whitespace.
    CHECK(value_json(hint_value::json(R"( { "sku" : "A 1", "qty" : [1, 2.5e-3, -0, true, null] } )")) ==
          R"({"sku":"A 1","qty":[1,2.5e-3,-0,true,null]})");
    CHECK(value_json(hint_value::json(R"("\u00e9\n\/")")) == R"("\u00e9\n\/")");
    CHECK(value_json(hint_value::json("\"caf\xc3\xa9\"")) == "\"caf\xc3\xa9\"");
    CHECK(value_json(hint_value::json("[]")) == "[]");
    CHECK(value_json(hint_value::json("{}")) == "{}");
    CHECK(value_json(hint_value::json("0")) == "0");
    CHECK(kp::invalidate_payload("orders", "", "x", {{"items", hint_value::json(R"([{"sku":"A1","qty":2}])")}}) ==
          R"({"resource":"orders","action":"x","hint":{"items":[{"sku":"A1","qty":2}]}})");

    const std::vector<std::string> invalid{
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{'a':1}", "{a:1}", "01", "1.", ".5", "+1", "-", "1e", "1e+",
        "NaN", "Infinity", "tru", "nul", "True", "1 2", "{} {}", "\"a", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"",
        "\"a\nb\"", "\"a\tb\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "[1 2]", "{\"a\" 1}", "{\"a\":}",
        "{1:2}", "[", "]", "\x01", "//c\n1", std::string(65, '[') + std::string(65, ']')};
    for (const auto& text : invalid) {
        INFO(text);
        CHECK_FALSE(kp::is_valid_json(text));
        CHECK_THROWS_AS(hint_value::json(text), std::invalid_argument);
    }
    CHECK(kp::is_valid_json(std::string(64, '[') + std::string(64, ']')));
    CHECK(kp::is_valid_json("\"\\ud83d\\ude80\""));
}

namespace {

// A hub whose on_connect takes topics from ?topics= and tenant_id from ?tenant=.
ssehub::hub_config tenant_config() {
    ssehub::hub_config cfg;
    cfg.flush_interval = 20ms;  // batched/coalesced lanes: keep the test quick
    cfg.on_connect = [](const ssehub::http::request& req, ssehub::connection& c) -> std::optional<ssehub::rejection> {
        if (auto t = req.query_param("tenant")) c.set_metadata("tenant_id", *t);
        if (auto topics = req.query_param("topics")) c.set_topics(ssehub::http::split_list(*topics));
        return std::nullopt;
    };
    return cfg;
}

std::vector<ssehub::parsed_event> of_type(const test::client& c, std::string_view type) {
    std::vector<ssehub::parsed_event> out;
    for (const auto& e : c.events)
        if (e.type == type) out.push_back(e);
    return out;
}

// Publishes an instant marker every client gets; once a client has it, every
// earlier event for that client (any lane) has been written.
void fence(test::server& s, std::initializer_list<test::client*> clients, const std::string& name) {
    ssehub::event e;
    e.type = "fence";
    e.data = name;
    e.topics = {"fence"};
    s.publish_sync(std::move(e));
    for (auto* c : clients)
        REQUIRE(c->read_until([&] {
            for (const auto& ev : c->events)
                if (ev.type == "fence" && ev.data == name) return true;
            return false;
        }));
}

}  // namespace

TEST_CASE("kill-polling free functions route by topic and tenant over loopback", "[kill_polling][loopback]") {
    test::server s(tenant_config());
    test::client a, b, global;
    a.get(s.port(), "/events?tenant=t1&topics=orders,import,dashboard,fence");
    b.get(s.port(), "/events?tenant=t2&topics=orders,import,dashboard,fence");
    global.get(s.port(), "/events?topics=orders,inventory,fence");
    REQUIRE(a.wait_events(1));
    REQUIRE(b.wait_events(1));
    REQUIRE(global.wait_events(1));
    REQUIRE(wait_active(s, 3));
    auto& h = s.hub();

    SECTION("invalidate variants") {
        REQUIRE_FALSE(ssehub::invalidate_for_tenant(h, "t1", "orders", "ord_1", "created"));
        REQUIRE_FALSE(ssehub::invalidate_for_tenant_with_hint(h, "t2", "orders", "ord_2", "updated", {{"total", 5.5}}));
        REQUIRE_FALSE(ssehub::invalidate(h, "orders", "", "refresh"));
        REQUIRE_FALSE(ssehub::invalidate_with_hint(h, "orders", "ord_3", "deleted", {{"by", "admin"}}));
        REQUIRE_FALSE(ssehub::domain_event(h, "orders", "created", "ord_4", "t1", {{"n", 1}}));
        REQUIRE_FALSE(ssehub::domain_event(h, "orders", "created", "ord_5", ""));
        fence(s, {&a, &b, &global}, "1");

        const auto ia = of_type(a, "invalidate");
        REQUIRE(ia.size() == 5);
        CHECK(ia[0].data == R"({"resource":"orders","action":"created","resource_id":"ord_1"})");
        CHECK(ia[1].data == R"({"resource":"orders","action":"refresh"})");
        CHECK(ia[2].data == R"({"resource":"orders","action":"deleted","resource_id":"ord_3","hint":{"by":"admin"}})");
        CHECK(ia[3].data == R"({"resource":"orders","action":"created","resource_id":"ord_4","hint":{"n":1}})");
        CHECK(ia[4].data == R"({"resource":"orders","action":"created","resource_id":"ord_5"})");
        CHECK(!ia[0].id.empty());

        const auto ib = of_type(b, "invalidate");
        REQUIRE(ib.size() == 4);  // never t1's events
        CHECK(ib[0].data == R"({"resource":"orders","action":"updated","resource_id":"ord_2","hint":{"total":5.5}})");
        CHECK(ib[1].data == R"({"resource":"orders","action":"refresh"})");
        CHECK(ib[2].data == R"({"resource":"orders","action":"deleted","resource_id":"ord_3","hint":{"by":"admin"}})");
        CHECK(ib[3].data == R"({"resource":"orders","action":"created","resource_id":"ord_5"})");

        const auto ig = of_type(global, "invalidate");  // no tenant: only global events
        REQUIRE(ig.size() == 3);
        CHECK(ig[0].data == R"({"resource":"orders","action":"refresh"})");
        CHECK(ig[2].data == R"({"resource":"orders","action":"created","resource_id":"ord_5"})");
    }

    SECTION("an empty tenant on invalidate_for_tenant reaches nobody") {
        CHECK(s.publish_sync(kp::invalidate_for_tenant_event("", "orders", "x", "created")).matched == 0);
        REQUIRE_FALSE(ssehub::invalidate_for_tenant(h, "", "orders", "x", "created"));
        fence(s, {&a, &b, &global}, "2");
        CHECK(of_type(a, "invalidate").empty());
        CHECK(of_type(b, "invalidate").empty());
        CHECK(of_type(global, "invalidate").empty());
    }

    SECTION("batch: once per connection, empty publishes nothing") {
        const auto before = h.stats().events_published;
        REQUIRE_FALSE(ssehub::batch_domain_events(h, "t1", {}));
        REQUIRE_FALSE(ssehub::batch_domain_events(
            h, "", {{"inventory", "updated", "sku_1", {}}, {"orders", "created", "o", {}}}));
        REQUIRE_FALSE(ssehub::batch_domain_events(
            h, "t2", {{"orders", "created", "o2", {}}, {"dashboard", "refresh", "", {}}}));
        fence(s, {&a, &b, &global}, "3");
        CHECK(h.stats().events_published == before + 3);  // two batches and the fence
        const auto ba = of_type(a, "batch");
        REQUIRE(ba.size() == 1);
        CHECK(ba[0].data ==
              R"([{"resource":"inventory","action":"updated","resource_id":"sku_1"},{"resource":"orders","action":"created","resource_id":"o"}])");
        CHECK(of_type(b, "batch").size() == 2);
        CHECK(of_type(global, "batch").size() == 1);  // subscribed to both topics, delivered once
    }

    SECTION("signals") {
        REQUIRE_FALSE(ssehub::signal_for_tenant(h, "t1", "dashboard"));
        REQUIRE_FALSE(ssehub::signal_throttled(h, "dashboard", 60s));
        fence(s, {&a, &b, &global}, "4");
        // Both are coalesced per connection; a and b have different keys for them.
        CHECK(!of_type(a, "signal").empty());
        CHECK(of_type(b, "signal").size() == 1);
        CHECK(of_type(b, "signal")[0].data == R"({"signal":"refresh"})");
        CHECK(of_type(global, "signal").empty());  // not subscribed to dashboard
        REQUIRE_FALSE(ssehub::signal(h, "dashboard"));
        fence(s, {&a, &b, &global}, "5");
        CHECK(of_type(b, "signal").size() == 2);
    }

    SECTION("progress then complete: latest progress first, tenant only") {
        constexpr int rows = 1000;
        for (int i = 1; i <= rows; ++i)
            REQUIRE_FALSE(ssehub::progress(h, "import", "imp_1", "t1", i, rows, {{"row", i}}));
        REQUIRE_FALSE(ssehub::complete(h, "import", "imp_1", "t1", true, {{"rows", rows}, {"status", "x"}}));
        REQUIRE(a.read_until([&] { return !of_type(a, "complete").empty(); }));
        const auto pa = of_type(a, "progress");
        REQUIRE(!pa.empty());
        // Every progress frame a connection gets is written before the later complete.
        CHECK(pa.back().data == R"({"resource_id":"imp_1","current":1000,"total":1000,"pct":100,"row":1000})");
        std::size_t complete_at = 0, last_progress_at = 0;
        for (std::size_t i = 0; i < a.events.size(); ++i) {
            if (a.events[i].type == "complete") complete_at = i;
            if (a.events[i].type == "progress") last_progress_at = i;
        }
        CHECK(last_progress_at < complete_at);
        CHECK(of_type(a, "complete")[0].data == R"({"resource_id":"imp_1","status":"completed","rows":1000})");
        fence(s, {&a, &b, &global}, "6");
        CHECK(of_type(b, "progress").empty());
        CHECK(of_type(b, "complete").empty());
        CHECK(of_type(global, "progress").empty());
    }

    SECTION("publish errors come back from the free functions") {
        CHECK(ssehub::invalidate(h, "bad topic", "", "x") == ssehub::error::invalid_topic);
        CHECK(ssehub::progress(h, "", "imp", "", 1, 2) == ssehub::error::invalid_topic);
        CHECK(ssehub::batch_domain_events(h, "", {{"a..b", "x", "", {}}}) == ssehub::error::invalid_topic);
    }
}

TEST_CASE("a paused connection gets complete at once and the latest progress on resume", "[kill_polling][loopback]") {
    test::server s(tenant_config());
    test::client a;
    a.get(s.port(), "/events?tenant=t1&topics=import,fence");
    REQUIRE(a.wait_events(1));
    REQUIRE(wait_active(s, 1));
    const std::string id = test::connection_id(a);
    REQUIRE(!id.empty());
    auto& h = s.hub();

    REQUIRE(h.set_paused(id, true));
    REQUIRE(test::poll_until([&] { return h.stats().paused_connections == 1; }));
    for (int i = 1; i <= 500; ++i) REQUIRE_FALSE(ssehub::progress(h, "import", "imp_9", "t1", i, 500));
    REQUIRE_FALSE(ssehub::complete(h, "import", "imp_9", "t1", false, {{"error", "row 42"}}));
    REQUIRE(a.read_until([&] { return !of_type(a, "complete").empty(); }));
    CHECK(of_type(a, "complete")[0].data == R"({"resource_id":"imp_9","status":"failed","error":"row 42"})");
    CHECK(of_type(a, "progress").empty());  // held while paused

    REQUIRE(h.set_paused(id, false));
    REQUIRE(a.read_until([&] { return !of_type(a, "progress").empty(); }));
    fence(s, {&a}, "resumed");
    const auto p = of_type(a, "progress");
    REQUIRE(p.size() == 1);  // coalesced: only the latest value
    CHECK(p[0].data == R"({"resource_id":"imp_9","current":500,"total":500,"pct":100})");
    CHECK_FALSE(h.set_paused("00000000000000000000000000000000", true));
}
