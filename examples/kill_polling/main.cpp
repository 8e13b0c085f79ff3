// ssehub_kill_polling: a live dashboard that never polls. Each tenant's page
// fetches its orders once, then refetches only when the hub says `invalidate`;
// a simulated CSV import reports 10,000 `progress` calls that the hub coalesces
// into a few frames; a hidden tab is paused (only its owner can pause it).
//
//   ssehub_kill_polling [--host 127.0.0.1] [--port 8080] [--flush-ms 250]
//                       [--import-rows 10000] [--import-ms 2000]
//   open http://127.0.0.1:8080/             (tenants A and B side by side)
//        http://127.0.0.1:8080/?tenant=A    (one tenant)
//
// Routes: GET / (page), GET /ssehub.js (@ssehub/client), GET|POST /api/orders?tenant=X,
// POST /api/import?tenant=X, POST /api/visibility, GET /api/stats, GET /events.
//
// The program runs one thread: the HTTP handlers and the hub hooks share the
// state below under one mutex (cheap; keeps it correct if threads are added).
#include "kill_polling_assets.hpp"  // generated: dashboard_html, ssehub_js

#include <ssehub/hub.hpp>
#include <ssehub/json.hpp>
#include <ssehub/kill_polling.hpp>

#include <asio.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct options {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    std::chrono::milliseconds flush{250};
    int import_rows = 10000;
    std::chrono::milliseconds import_duration{2000};
};

struct order {
    std::int64_t id;
    std::string item;
    int qty;
    double total;
};

struct app_state {
    std::mutex mu;
    std::map<std::string, std::vector<order>> orders;        // per tenant
    std::map<std::string, std::uint64_t> order_reads;        // GET /api/orders per tenant
    std::map<std::string, std::string, std::less<>> owners;  // connection id -> owner secret
    std::int64_t next_order = 1001;
    int next_import = 1;
    int imports_running = 0;
};

void report(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        std::cerr << "ssehub_kill_polling: " << ex.what() << '\n';
    }
}

// Tenants are short names: they appear in URLs, JSON and group metadata.
bool valid_tenant(std::string_view t) {
    if (t.empty() || t.size() > 32) return false;
    for (char c : t)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    return true;
}

// The page's per-load secret: 16..64 lowercase hex digits.
bool valid_owner(std::string_view o) {
    return o.size() >= 16 && o.size() <= 64 && o.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// Compares secrets without an early exit on the first differing byte.
bool same_secret(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

void append_order(std::string& out, const order& o) {
    char total[32];
    std::snprintf(total, sizeof total, "%.2f", o.total);
    out += "{\"id\":" + std::to_string(o.id) + ",\"item\":";
    ssehub::json::append_string(out, o.item);
    out += ",\"qty\":" + std::to_string(o.qty) + ",\"total\":" + total + "}";
}

std::string orders_json(const std::vector<order>& list) {
    std::string out = "[";
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (i) out += ',';
        append_order(out, list[i]);
    }
    out += ']';
    return out;
}

// The simulated CSV import: `rows` progress calls in 50 quick bursts, then
// one complete. The hub coalesces the bursts per connection.
asio::awaitable<void> run_import(ssehub::hub& hub, app_state& app, std::string tenant, std::string id, int rows,
                                 std::chrono::milliseconds duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    constexpr int bursts = 50;
    const int per_burst = std::max(1, rows / bursts);
    for (int row = 1; row <= rows; ++row) {
        ssehub::progress(hub, "import", id, tenant, row, rows);
        if (row % per_burst == 0 && row < rows) {
            timer.expires_after(duration / bursts);
            co_await timer.async_wait(asio::use_awaitable);
        }
    }
    ssehub::complete(hub, "import", id, tenant, true, {{"rows", rows}});
    // The import added orders: one more invalidate, as a real importer would.
    {
        std::lock_guard lock(app.mu);
        app.orders[tenant].push_back({app.next_order++, "imported batch " + id, rows, rows * 0.01});
        --app.imports_running;
    }
    ssehub::invalidate_for_tenant(hub, tenant, "orders", "", "imported");
}

struct response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
};

response json_error(int status, std::string_view message) {
    std::string body = "{\"error\":";
    ssehub::json::append_string(body, message);
    body += '}';
    return {status, "application/json", std::move(body)};
}

response handle_api(ssehub::hub& hub, app_state& app, const options& opt, const asio::any_io_executor& ex,
                    const ssehub::http::request& req, const std::string& body) {
    const auto path = req.path();
    const auto tenant = req.query_param("tenant").value_or("");

    if (path == "/api/orders" || path == "/api/import") {
        if (!valid_tenant(tenant)) return json_error(400, "tenant: 1-32 letters, digits, '-' or '_'");
    }
    if (path == "/api/orders" && req.method == "GET") {
        std::lock_guard lock(app.mu);
        ++app.order_reads[tenant];
        return {200, "application/json", orders_json(app.orders[tenant])};
    }
    if (path == "/api/orders" && req.method == "POST") {
        order o;
        {
            std::lock_guard lock(app.mu);
            auto& list = app.orders[tenant];
            o = {app.next_order++, "item #" + std::to_string(list.size() + 1), static_cast<int>(list.size() % 5) + 1,
                 0};
            o.total = 9.99 * o.qty;
            list.push_back(o);
        }
        // The one line that replaces polling: every page of this tenant refetches.
        ssehub::invalidate_for_tenant(hub, tenant, "orders", std::to_string(o.id), "created");
        response r{201, "application/json", ""};
        append_order(r.body, o);
        return r;
    }
    if (path == "/api/import" && req.method == "POST") {
        std::string id;
        {
            std::lock_guard lock(app.mu);
            id = "imp_" + std::to_string(app.next_import++);
            ++app.imports_running;
        }
        asio::co_spawn(ex, run_import(hub, app, tenant, id, opt.import_rows, opt.import_duration),
                       report);
        std::string out = "{\"import_id\":";
        ssehub::json::append_string(out, id);
        out += ",\"rows\":" + std::to_string(opt.import_rows) + "}";
        return {202, "application/json", std::move(out)};
    }
    if (path == "/api/visibility" && req.method == "POST") {
        // Body: connection_id=..&owner=..&paused=1|0 (form-encoded, as the page sends it).
        std::string id, owner, paused;
        for (auto& [k, v] : ssehub::http::parse_query(body)) {
            if (k == "connection_id") id = v;
            else if (k == "owner") owner = v;
            else if (k == "paused") paused = v;
        }
        if (id.empty() || !valid_owner(owner) || (paused != "1" && paused != "0"))
            return json_error(400, "expected connection_id, owner and paused=1|0");
        {
            std::lock_guard lock(app.mu);
            auto it = app.owners.find(id);
            // Unknown id and wrong owner look the same: no oracle for ids.
            if (it == app.owners.end() || !same_secret(it->second, owner)) return json_error(403, "not your connection");
        }
        if (!hub.set_paused(id, paused == "1")) return json_error(403, "not your connection");
        return {204, "", ""};
    }
    if (path == "/api/stats" && req.method == "GET") {
        std::lock_guard lock(app.mu);
        std::string out = "{\"order_reads\":{";
        bool first = true;
        for (const auto& [t, n] : app.order_reads) {
            if (!first) out += ',';
            first = false;
            ssehub::json::append_string(out, t);
            out += ':' + std::to_string(n);
        }
        const auto st = hub.stats();
        out += "},\"imports_running\":" + std::to_string(app.imports_running) +
               ",\"connections\":" + std::to_string(st.active_connections) +
               ",\"paused_connections\":" + std::to_string(st.paused_connections) + "}";
        return {200, "application/json", std::move(out)};
    }
    return json_error(404, "not found");
}

asio::awaitable<void> reply(asio::ip::tcp::socket& sock, const response& r) {
    std::vector<ssehub::http::header> extra{{"Cache-Control", "no-store"}};
    co_await asio::async_write(sock, asio::buffer(ssehub::http::make_response(r.status, r.content_type, r.body, extra)),
                               asio::use_awaitable);
    std::error_code ec;
    sock.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
}

// One request per connection (answers say Connection: close), except the
// event stream, which the hub takes over.
asio::awaitable<void> session(ssehub::hub& hub, app_state& app, const options& opt, asio::ip::tcp::socket sock) {
    ssehub::http::request_parser parser(hub.config().max_request_head);
    std::string body;
    char buf[2048];
    asio::steady_timer deadline(co_await asio::this_coro::executor);
    deadline.expires_after(10s);  // a stuck client cannot hold a session forever
    deadline.async_wait([&sock](std::error_code ec) {
        if (!ec) sock.close(ec);
    });
    for (;;) {
        const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::use_awaitable);
        std::size_t consumed = 0;
        const auto r = parser.feed(std::string_view(buf, n), consumed);
        if (r == ssehub::http::request_parser::result::need_more) continue;
        if (r == ssehub::http::request_parser::result::error) {
            deadline.cancel();
            const int st = parser.error_status();
            co_await reply(sock, {st, "text/plain", std::string(parser.error_message())});
            co_return;
        }
        body.assign(buf + consumed, n - consumed);
        break;
    }
    auto& req = parser.get();
    if (req.chunked()) {
        deadline.cancel();
        co_await reply(sock, json_error(411, "send a Content-Length"));
        co_return;
    }
    const std::uint64_t length = req.content_length().value_or(0);
    if (length > 4096) {
        deadline.cancel();
        co_await reply(sock, json_error(413, "body over 4096 bytes"));
        co_return;
    }
    while (body.size() < length) {
        const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::use_awaitable);
        body.append(buf, n);
    }
    body.resize(length);
    deadline.cancel();

    const auto path = req.path();
    if (path == "/events") {
        co_await hub.async_serve(std::move(sock), std::move(req));
        co_return;
    }
    response r;
    if (req.method == "GET" && path == "/") r = {200, "text/html; charset=utf-8", std::string(kill_polling_assets::dashboard_html)};
    else if (req.method == "GET" && path == "/ssehub.js")
        r = {200, "text/javascript; charset=utf-8", std::string(kill_polling_assets::ssehub_js)};
    else if (path.starts_with("/api/")) r = handle_api(hub, app, opt, co_await asio::this_coro::executor, req, body);
    else r = json_error(404, "not found");
    co_await reply(sock, r);
}

asio::awaitable<void> listen(ssehub::hub& hub, app_state& app, const options& opt, asio::ip::tcp::acceptor& acceptor) {
    for (;;) {
        auto sock = co_await acceptor.async_accept(asio::use_awaitable);
        asio::co_spawn(acceptor.get_executor(), session(hub, app, opt, std::move(sock)), [](std::exception_ptr e) {
            // A client that goes away mid-request is normal; anything else is reported.
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::system_error& se) {
                if (se.code() != asio::error::eof && se.code() != asio::error::connection_reset &&
                    se.code() != asio::error::operation_aborted && se.code() != asio::error::broken_pipe &&
                    se.code() != asio::error::bad_descriptor)
                    std::cerr << "ssehub_kill_polling: " << se.what() << '\n';
            } catch (const std::exception& ex) {
                std::cerr << "ssehub_kill_polling: " << ex.what() << '\n';
            }
        });
    }
}

ssehub::hub_config make_config(app_state& app, const options& opt) {
    ssehub::hub_config cfg;
    cfg.flush_interval = opt.flush;
    cfg.flush_min = std::min(cfg.flush_min, opt.flush);
    // Topics come from the server, never from the client: the tenant picks the
    // group, the owner secret ties the connection to the page that opened it.
    cfg.on_connect = [&app](const ssehub::http::request& req,
                            ssehub::connection& c) -> std::optional<ssehub::rejection> {
        const auto tenant = req.query_param("tenant");
        const auto owner = req.query_param("owner");
        if (!tenant || !valid_tenant(*tenant)) return ssehub::rejection{400, "bad tenant"};
        if (!owner || !valid_owner(*owner)) return ssehub::rejection{400, "bad owner"};
        c.set_metadata("tenant_id", *tenant);
        c.set_topics({"orders", "import", "dashboard"});
        std::lock_guard lock(app.mu);
        app.owners[c.id()] = *owner;
        return std::nullopt;
    };
    cfg.on_disconnect = [&app](const ssehub::connection& c) {
        std::lock_guard lock(app.mu);
        app.owners.erase(c.id());
    };
    return cfg;
}

int usage(int code) {
    std::cout << "usage: ssehub_kill_polling [--host 127.0.0.1] [--port 8080] [--flush-ms 250]\n"
                 "                           [--import-rows 10000] [--import-ms 2000]\n";
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--host" && has_value) opt.host = argv[++i];
        else if (a == "--port" && has_value) opt.port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (a == "--flush-ms" && has_value) opt.flush = std::chrono::milliseconds(std::max(10, std::atoi(argv[++i])));
        else if (a == "--import-rows" && has_value) opt.import_rows = std::max(1, std::atoi(argv[++i]));
        else if (a == "--import-ms" && has_value) opt.import_duration = std::chrono::milliseconds(std::max(0, std::atoi(argv[++i])));
        else return usage(a == "--help" ? 0 : 2);
    }
    asio::io_context ioc;
    app_state app;
    ssehub::hub hub(ioc.get_executor(), make_config(app, opt));
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address(opt.host), opt.port});
    // First line: the URL (scripts start us on port 0 and read it).
    std::cout << "listening on http://" << opt.host << ':' << acceptor.local_endpoint().port() << "/" << std::endl;
    asio::co_spawn(ioc, listen(hub, app, opt, acceptor), report);
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
        acceptor.close();
        asio::co_spawn(ioc, hub.async_shutdown(2s), [&](std::exception_ptr) { ioc.stop(); });
    });
    ioc.run();
}
