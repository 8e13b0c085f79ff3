#include "daemon.hpp"

#include "api.hpp"
#include "auth_setup.hpp"
#include "header_stream.hpp"
#include "ssehubd_assets.hpp"  // generated: demo_html, ssehub_js

#include <ssehub/auth.hpp>
#include <ssehub/http.hpp>
#include <ssehub/jwt.hpp>

#include <asio/co_spawn.hpp>
#include <asio/strand.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace ssehubd {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using json = nlohmann::json;
namespace http = ssehub::http;

namespace {

constexpr std::string_view session_header = "X-Ssehubd-Session";  // daemon-internal: set after stripping the client's

std::string endpoint_text(const asio::ip::tcp::socket& s) {
    std::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    if (ec) return "?";
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

bool same_secret(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

void report(std::string_view what, std::exception_ptr e, logger& log) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error& se) {
        // A client that goes away mid-request is normal.
        const auto c = se.code();
        if (c == asio::error::eof || c == asio::error::connection_reset || c == asio::error::operation_aborted ||
            c == asio::error::broken_pipe || c == asio::error::bad_descriptor || c == asio::error::not_connected)
            return;
        log.error("exception", {{"in", what}, {"error", se.what()}});
    } catch (const std::exception& ex) {
        log.error("exception", {{"in", what}, {"error", ex.what()}});
    }
}

}  // namespace

struct daemon::response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<http::header> headers;
};

struct daemon::request_context {
    http::request& req;
    std::string body;
    std::string remote;
};

namespace {

daemon::response json_response(int status, const json& j) {
    return {status, "application/json", j.dump(-1, ' ', false, json::error_handler_t::replace), {}};
}

daemon::response error_response(int status, std::string message, std::string field = {}) {
    return {status, "application/json", api::error_body({status, std::move(field), std::move(message)}), {}};
}

daemon::response from_api_error(const api::error& e) {
    return {e.status, "application/json", api::error_body(e), {}};
}

// Reads the request head, then a body of Content-Length bytes (POST/PUT/PATCH).
// Returns 0, or a status to answer with (and `unread` when bytes the client is
// still sending were left unread).
struct read_outcome {
    int status = 0;
    std::string message;
    bool unread = false;
    bool gone = false;       // client closed before a whole head: no answer
    bool head_done = false;  // the head parsed (path and method are known)
    bool extra = false;      // bytes after this request arrived (pipelining): answered, then closed
};

asio::awaitable<read_outcome> read_request(asio::ip::tcp::socket& sock, http::request_parser& parser, std::string& body,
                                           std::size_t max_body) {
    std::array<char, 4096> buf;
    read_outcome out;
    for (;;) {
        std::error_code ec;
        const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            out.gone = true;
            co_return out;
        }
        std::string_view data(buf.data(), n);
        bool done = false;
        while (!data.empty()) {
            std::size_t consumed = 0;
            const auto r = parser.feed(data, consumed);
            data.remove_prefix(consumed);
            if (r == http::request_parser::result::error) {
                out.status = parser.error_status();
                out.message = std::string(parser.error_message());
                out.unread = true;
                co_return out;
            }
            if (r == http::request_parser::result::done) {
                done = true;
                break;
            }
            if (consumed == 0) break;
        }
        if (done) {
            body.assign(data);
            break;
        }
    }
    out.head_done = true;
    const http::request& req = parser.get();
    const bool has_body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    if (req.chunked()) {
        out.status = 411;
        out.message = "Transfer-Encoding: chunked is not supported; send Content-Length";
        out.unread = true;
        co_return out;
    }
    const auto length = req.content_length();
    if (!length) {
        if (has_body_method) {
            out.status = 411;
            out.message = "Content-Length required";
            out.unread = !body.empty();
        }
        out.extra = !body.empty();
        body.clear();
        co_return out;
    }
    if (*length > max_body) {
        out.status = 413;
        out.message = "body over " + std::to_string(max_body) + " bytes";
        out.unread = true;
        co_return out;
    }
    while (body.size() < *length) {
        std::error_code ec;
        const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            out.gone = true;
            co_return out;
        }
        body.append(buf.data(), n);
    }
    out.extra = body.size() > *length;
    body.resize(static_cast<std::size_t>(*length));  // a pipelined request after it is ignored (we close)
    co_return out;
}

// Reads and drops what the client still sends (bounded), so that closing the
// socket does not reset the connection before the client read our answer.
asio::awaitable<void> linger(asio::ip::tcp::socket& sock) {
    std::array<char, 4096> buf;
    std::size_t total = 0;
    for (;;) {
        std::error_code ec;
        const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        total += n;
        if (total > (4u << 20)) co_return;
    }
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    std::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

daemon::daemon(std::vector<asio::io_context*> loops, options opts, logger& log)
    : loops_(std::move(loops)),
      ioc_(*loops_.at(0)),
      opts_(std::move(opts)),
      log_(log),
      // One strand for the daemon's own objects (acceptor, signals, watch
      // timer, drain), so they stay serialised with --threads N.
      acceptor_(asio::make_strand(ioc_)),
      signals_(acceptor_.get_executor(), SIGINT, SIGTERM),
      watch_timer_(acceptor_.get_executor()) {
    counters_.start_time_seconds =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (!opts_.redis_url.empty()) {
        std::string why;
        redis_ = redis_bridge::create(ioc_.get_executor(), opts_, log_, &why);
        if (!redis_) throw std::runtime_error("--redis: " + why);
    }
    if (opts_.auth == auth_mode::tickets) {
        if (redis_) {
            tickets_ = redis_->tickets();  // shared by every node: a ticket works once anywhere
        } else {
            ssehub::memory_ticket_store_config tc;
            tc.max_tickets = opts_.max_tickets;
            tickets_ = ssehub::any_ticket_store(std::in_place_type<ssehub::memory_ticket_store>, tc);
        }
    }
    std::vector<asio::any_io_executor> shard_executors;
    for (auto* loop : loops_) shard_executors.push_back(loop->get_executor());
    hub_.emplace(std::move(shard_executors), hub_config());  // one shard per event loop
    if (redis_) redis_->start(*hub_);  // Redis down at start is fine: the bridge retries with backoff

    asio::ip::tcp::resolver resolver(ioc_);
    const auto results = resolver.resolve(opts_.host, std::to_string(opts_.port), asio::ip::resolver_base::passive);
    const asio::ip::tcp::endpoint ep = *results.begin();
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
}

daemon::~daemon() = default;

std::string daemon::url() const {
    const auto ep = acceptor_.local_endpoint();
    const auto a = ep.address();
    return "http://" + (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

int daemon::retry_after_seconds() const {
    return static_cast<int>(std::max<std::int64_t>(1, (opts_.retry.count() + 999) / 1000));
}

ssehub::hub_config daemon::hub_config() {
    ssehub::hub_config cfg;
    cfg.send_queue = opts_.send_queue;
    cfg.batch_delay = opts_.batch_delay;
    cfg.batch_above_deliveries = opts_.batch_above_deliveries;
    cfg.publish_intake = opts_.publish_intake;
    cfg.flush_interval = opts_.flush;
    cfg.flush_min = opts_.flush_min;
    cfg.flush_max = opts_.flush_max;
    cfg.max_batched = opts_.max_batched;
    cfg.max_coalesce_keys = opts_.max_coalesce_keys;
    cfg.slow_consumer_timeout = opts_.slow_consumer_timeout;
    cfg.heartbeat_interval = opts_.heartbeat;
    cfg.max_lifetime = opts_.max_lifetime;
    cfg.retry = opts_.retry;
    cfg.write_timeout = opts_.write_timeout;
    cfg.max_connections = opts_.max_connections;
    cfg.max_request_head = opts_.max_head;
    cfg.request_head_timeout = opts_.head_timeout;
    cfg.max_topic_length = opts_.max_topic_length;
    cfg.max_topics_per_connection = opts_.max_topics;

    setup_auth_and_replay(cfg, opts_, tickets_);
    if (redis_) redis_->configure(cfg);  // the Redis Stream replaces the memory replayer

    // Runs after authentication (metadata set; topics set when a ticket
    // decided them), before the hub's topic checks and registration: it only
    // records what visibility ownership and the logs need. Whether the stream
    // then registers shows in the status its header_stream reports.
    cfg.on_connect = [this](const http::request& req, ssehub::connection& c) -> std::optional<ssehub::rejection> {
        if (c.topics().empty()) {
            if (auto raw = req.query_param("topics")) c.set_topics(http::split_list(*raw));
        }
        conn_record rec;
        if (auto owner = req.query_param("owner"); owner && api::valid_owner(*owner)) rec.owner = std::move(*owner);
        rec.metadata = c.metadata();
        std::lock_guard lock(conns_mu_);
        if (const std::string* sid = req.find(session_header)) {
            if (auto it = sessions_.find(std::strtoull(sid->c_str(), nullptr, 10)); it != sessions_.end()) {
                it->second.conn_id = c.id();
                it->second.topics = c.topics();
                it->second.metadata = c.metadata();
            }
        }
        // Without an owner or metadata no visibility request can prove
        // ownership: nothing to keep.
        if (!rec.owner.empty() || !rec.metadata.empty()) conns_[c.id()] = std::move(rec);
        return std::nullopt;
    };
    cfg.on_auth_failure = [this](const http::request& req, std::string_view reason) {
        counters_.auth_failures.fetch_add(1);
        std::string remote;
        if (const std::string* sid = req.find(session_header)) {
            std::lock_guard lock(conns_mu_);
            if (auto it = sessions_.find(std::strtoull(sid->c_str(), nullptr, 10)); it != sessions_.end())
                remote = it->second.remote;
        }
        log_.warn("auth_failed", {{"remote", remote}, {"reason", reason}});  // the hub never puts credentials in it
    };
    cfg.on_disconnect = [this](const ssehub::connection& c) {
        {
            std::lock_guard lock(conns_mu_);
            conns_.erase(c.id());
        }
        log_.info("disconnect", {{"conn", c.id()},
                                 {"reason", draining_.load() ? "shutdown" : "closed"},
                                 {"sent", c.sent()},
                                 {"dropped", c.dropped()}});
    };
    cfg.on_pause = [this](const ssehub::connection& c) { log_.debug("pause", {{"conn", c.id()}}); };
    cfg.on_resume = [this](const ssehub::connection& c) { log_.debug("resume", {{"conn", c.id()}}); };
    return cfg;
}

void daemon::start() {
    asio::co_spawn(acceptor_.get_executor(), accept_loop(), [this](std::exception_ptr e) { report("accept", e, log_); });
    asio::co_spawn(acceptor_.get_executor(), watch(), [this](std::exception_ptr e) { report("watch", e, log_); });
    signals_.async_wait([this](std::error_code ec, int sig) {
        if (ec) return;
        begin_drain(sig == SIGTERM ? "SIGTERM" : "SIGINT");
        // A second signal is harmless: keep listening so it does not kill us.
        signals_.async_wait([this](std::error_code ec2, int) {
            if (!ec2) log_.info("drain_already_running");
        });
    });
    json listen{{"url", url()}, {"auth", to_string(opts_.auth)}, {"publisher_key", !opts_.publisher_key.empty()},
                {"replay_size", opts_.replay_size}, {"demo", opts_.demo}};
    if (redis_) listen["node"] = redis_->node();
    log_.info("start", listen);
    const auto addr = acceptor_.local_endpoint().address();
    if (!addr.is_loopback() && opts_.publisher_key.empty())
        log_.warn("open_publish", {{"detail", "listening beyond loopback without --publisher-key: anyone can publish"}});
}

void daemon::begin_drain(std::string_view why) {
    if (draining_.exchange(true)) {
        log_.info("drain_already_running");
        return;
    }
    counters_.draining = true;
    log_.info("drain", {{"why", why}, {"timeout_ms", opts_.drain_timeout.count()}});
    asio::co_spawn(acceptor_.get_executor(), drain(), [this](std::exception_ptr e) {
        report("drain", e, log_);
        for (auto* loop : loops_) loop->stop();
    });
}

asio::awaitable<void> daemon::drain() {
    const auto started = std::chrono::steady_clock::now();
    co_await hub_->async_shutdown(opts_.drain_timeout);
    std::error_code ec;
    acceptor_.close(ec);
    watch_timer_.cancel();
    signals_.cancel();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    log_.info("stopped", {{"drain_ms", ms.count()}});
}

asio::awaitable<void> daemon::watch() {
    // Slow consumers are only counted by the hub: report increases once in a while.
    std::uint64_t slow = 0, rejected = 0;
    for (;;) {
        watch_timer_.expires_after(2s);
        std::error_code ec;
        co_await watch_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec || draining_.load()) co_return;
        const auto s = hub_->stats(false, 0);
        if (s.slow_consumer_disconnects > slow)
            log_.warn("slow_consumer", {{"disconnected", s.slow_consumer_disconnects - slow},
                                        {"dropped_queue_full", s.dropped_queue_full},
                                        {"dropped_slow_consumer", s.dropped_lane_cap}});
        if (s.events_rejected > rejected)
            log_.warn("publish_intake_full", {{"rejected", s.events_rejected - rejected}});
        slow = s.slow_consumer_disconnects;
        rejected = s.events_rejected;
    }
}

asio::awaitable<void> daemon::accept_loop() {
    for (;;) {
        std::error_code ec;
        // Round-robin over the event loops: the stream lands on that loop's hub shard.
        asio::io_context& loop = *loops_[next_loop_++ % loops_.size()];
        auto sock = co_await acceptor_.async_accept(loop, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        if (ec) {
            // EMFILE and friends: back off a little instead of spinning.
            log_.warn("accept_failed", {{"error", ec.message()}});
            co_await sleep_for(100ms);
            continue;
        }
        asio::co_spawn(loop, session(std::move(sock)), [this](std::exception_ptr e) { report("session", e, log_); });
    }
}

std::optional<std::string> daemon::cors_origin(const http::request& req) const {
    const std::string* origin = req.find("Origin");
    if (!origin || opts_.cors_origins.empty()) return std::nullopt;
    for (unsigned char c : *origin)
        if (c <= 0x20 || c >= 0x7f) return std::nullopt;
    for (const auto& allowed : opts_.cors_origins)
        if (allowed == "*" || allowed == *origin) return *origin;
    return std::nullopt;
}

bool daemon::publisher_ok(const http::request& req) const {
    if (opts_.publisher_key.empty()) return true;
    std::string_view given;
    if (const std::string* k = req.find("X-Publisher-Key")) {
        given = *k;
    } else if (const std::string* a = req.find("Authorization")) {
        std::string_view v = *a;
        if (v.size() > 7 && iequals(v.substr(0, 7), "Bearer ")) given = v.substr(7);
        while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
    }
    return !given.empty() && same_secret(given, opts_.publisher_key);
}

asio::awaitable<void> daemon::session(asio::ip::tcp::socket sock) {
    const std::string remote = endpoint_text(sock);
    // HTTP/1.1 keep-alive: a publisher reuses its connection for up to
    // keepalive_requests requests; between them it may stay idle for
    // keepalive_timeout. Pipelined bytes are never parsed: a request followed
    // by more bytes is answered and the connection closed.
    for (std::size_t served = 0;; ++served) {
        if (served > 0) {
            asio::steady_timer idle(co_await asio::this_coro::executor, opts_.keepalive_timeout);
            std::error_code wait_ec;
            auto w = co_await (sock.async_wait(asio::socket_base::wait_read,
                                               asio::redirect_error(asio::use_awaitable, wait_ec)) ||
                               idle.async_wait(asio::use_awaitable));
            if (w.index() == 1 || wait_ec || draining_.load()) break;  // idle, gone or draining: close quietly
        }
        if (!co_await serve_request(sock, remote, served + 1 < opts_.keepalive_requests)) break;
    }
    std::error_code ec;
    sock.close(ec);
}

asio::awaitable<bool> daemon::serve_request(asio::ip::tcp::socket& sock, const std::string& remote, bool may_keep) {
    http::request_parser parser(opts_.max_head);
    std::string body;
    read_outcome got;
    {
        asio::steady_timer deadline(co_await asio::this_coro::executor, opts_.head_timeout);
        auto r = co_await (read_request(sock, parser, body, opts_.max_body) ||
                           deadline.async_wait(asio::use_awaitable));
        if (r.index() == 1) got = read_outcome{408, "request not received in time", true, false, false};
        else got = std::get<0>(std::move(r));
    }
    if (got.gone) co_return false;

    http::request& req = parser.get();
    const auto cors = cors_origin(req);
    std::vector<http::header> cors_headers;
    if (cors) {
        cors_headers.push_back({"Access-Control-Allow-Origin", *cors});
        cors_headers.push_back({"Access-Control-Allow-Credentials", "true"});
        cors_headers.push_back({"Vary", "Origin"});
    }
    const std::string path(got.head_done ? req.path() : std::string_view());

    if (got.status == 0 && path == "/events" && req.method == "GET") {
        if (!draining_.load()) {
            std::string lines;
            for (const auto& h : cors_headers) lines += h.name + ": " + h.value + "\r\n";
            // Handed to a coroutine of its own: this frame and the session's
            // (parser, body, buffers, timers) end now instead of living as
            // long as the stream.
            start_stream(std::move(sock), std::move(req), std::move(lines), remote);
            co_return false;
        }
    }

    response res;
    if (got.status != 0) {
        res = error_response(got.status, got.message);
    } else {
        request_context ctx{req, std::move(body), remote};
        try {
            res = co_await route(ctx);
        } catch (const std::exception& e) {
            log_.error("handler_failed", {{"path", path}, {"error", e.what()}});
            res = error_response(500, "internal error");
        }
    }
    counters_.count_request(got.head_done ? route_label(req.method, path) : "other", res.status);
    if (res.status >= 500 || (res.status >= 400 && log_.enabled(log_level::debug)))
        log_.write(res.status >= 500 ? log_level::warn : log_level::debug, "http_error",
                   {{"remote", remote}, {"method", req.method}, {"path", path}, {"status", res.status}});

    const bool keep = may_keep && got.status == 0 && !got.unread && !got.extra && res.status < 500 &&
                      req.version_minor == 1 && req.keep_alive() && !draining_.load();
    auto headers = std::move(res.headers);
    headers.insert(headers.end(), cors_headers.begin(), cors_headers.end());
    headers.push_back({"Cache-Control", "no-store"});
    headers.push_back({"X-Content-Type-Options", "nosniff"});
    const std::string wire = http::make_response(res.status, res.content_type, res.body, headers, !keep);
    std::error_code ec;
    co_await asio::async_write(sock, asio::buffer(wire), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    if (keep) co_return true;
    sock.shutdown(asio::socket_base::shutdown_send, ec);
    if (got.unread) {
        asio::steady_timer t(co_await asio::this_coro::executor, 1s);
        co_await (linger(sock) || t.async_wait(asio::use_awaitable));
    }
    co_return false;
}

void daemon::start_stream(asio::ip::tcp::socket sock, http::request req, std::string cors, const std::string& remote) {
    // Tag the request so that the hub's hooks can tell which session it
    // serves; a client-sent header of that name is dropped first.
    std::erase_if(req.headers, [](const http::header& h) { return iequals(h.name, session_header); });
    const std::uint64_t sid = next_session_.fetch_add(1);
    req.headers.push_back({std::string(session_header), std::to_string(sid)});
    {
        std::lock_guard lock(conns_mu_);
        sessions_[sid].remote = remote;
    }
    // Captures 16 bytes: std::function keeps it without an allocation.
    auto on_status = [this, sid](int st) {
        if (st != 0) counters_.count_request("/events", st);  // counted when answered
        json fields;
        {
            std::lock_guard lock(conns_mu_);
            auto it = sessions_.find(sid);
            if (it == sessions_.end()) return;
            it->second.status = st;
            if (st != 200) return;  // end_stream cleans up
            // The hub writes 200 only after registering the connection; from
            // here on_disconnect cleans up, and the session is not needed.
            auto& session = it->second;
            fields = json{{"conn", session.conn_id}, {"remote", session.remote}};
            if (!session.conn_id.empty()) {
                fields["topics"] = session.topics;
                json meta = json::object();
                for (const auto& [k, v] : session.metadata) meta[k] = v;
                fields["metadata"] = std::move(meta);
            }
            sessions_.erase(it);
        }
        log_.info("connect", fields);
    };
    // The hub's coroutine is spawned directly (no frame of ours stays alive
    // beside it), on a strand of the socket's io_context of its own: the hub
    // then serves the connection on that strand without a second coroutine.
    asio::any_io_executor ex;
    if (const auto* ioc = sock.get_executor().target<asio::io_context::executor_type>()) ex = asio::make_strand(*ioc);
    else ex = asio::make_strand(sock.get_executor());
    asio::co_spawn(ex, hub_->async_serve(header_stream(std::move(sock), std::move(cors), on_status), std::move(req)),
                   [this, sid](std::exception_ptr e) {
                       end_stream(sid);
                       report("stream", e, log_);
                   });
}

void daemon::end_stream(std::uint64_t sid) {
    std::string remote;
    int status = 0;
    {
        // A registered stream's session went at its 200 (and its record at
        // on_disconnect); one the hub refused after on_connect (topics, auth,
        // full) is removed here.
        std::lock_guard lock(conns_mu_);
        if (auto it = sessions_.find(sid); it != sessions_.end()) {
            status = it->second.status;
            if (status != 200 && !it->second.conn_id.empty()) conns_.erase(it->second.conn_id);
            remote = std::move(it->second.remote);
            sessions_.erase(it);
        }
    }
    if (status != 0 && status != 200)
        log_.write(status >= 500 ? log_level::info : log_level::debug, "stream_refused",
                   {{"remote", remote}, {"status", status}});
}

asio::awaitable<daemon::response> daemon::route(request_context& ctx) {
    const http::request& req = ctx.req;
    const std::string_view path = req.path();
    const std::string_view m = req.method;

    if (m == "OPTIONS") {
        if (!cors_origin(req)) co_return error_response(403, "origin not allowed");
        response r{204, "", "", {}};
        r.headers = {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                     {"Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID, X-Publisher-Key"},
                     {"Access-Control-Max-Age", "600"}};
        co_return r;
    }
    auto method_not_allowed = [](std::string_view allow) {
        response r = error_response(405, "method not allowed");
        r.headers.push_back({"Allow", std::string(allow)});
        return r;
    };
    auto unavailable = [this](std::string message) {
        response r = error_response(503, std::move(message));
        r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        return r;
    };

    if (path == "/events") {
        if (m != "GET") co_return method_not_allowed("GET");
        co_return unavailable("shutting down");  // only reached while draining
    }
    if (path == "/events/visibility") {
        if (m != "POST") co_return method_not_allowed("POST");
        co_return visibility(ctx);
    }
    if (path == "/publish" || path.starts_with("/publish/")) {
        const std::string_view kind = path == "/publish" ? std::string_view() : path.substr(9);
        if (!kind.empty() && !api::is_kill_polling_kind(kind)) co_return error_response(404, "not found");
        if (m != "POST") co_return method_not_allowed("POST");
        co_return co_await publish(ctx, kind);
    }
    if (path == "/tickets") {
        if (m != "POST") co_return method_not_allowed("POST");
        co_return co_await tickets(ctx);
    }
    const bool get = m == "GET";
    if (path == "/healthz") {
        if (!get) co_return method_not_allowed("GET");
        co_return json_response(200, {{"status", "ok"}});
    }
    if (path == "/readyz") {
        if (!get) co_return method_not_allowed("GET");
        if (draining_.load()) {
            response r = json_response(503, {{"status", "draining"}});
            r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
            co_return r;
        }
        if (redis_ && opts_.redis_ready && !redis_->up()) {
            response r = json_response(503, {{"status", "redis_unavailable"}});
            r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
            co_return r;
        }
        co_return json_response(200, {{"status", "ready"}});
    }
    if (path == "/metrics") {
        if (!get) co_return method_not_allowed("GET");
        const auto s = hub_->stats(false, opts_.metrics_topic_series);
        co_return response{200, "text/plain; version=0.0.4; charset=utf-8",
                           render_prometheus(s, counters_, opts_.metrics_topic_series) +
                               (redis_ ? redis_->prometheus() : std::string()),
                           {}};
    }
    if (path == "/stats") {
        if (!get) co_return method_not_allowed("GET");
        co_return stats(ctx);
    }
    if (path == "/" && opts_.demo) {
        if (!get) co_return method_not_allowed("GET");
        co_return response{200, "text/html; charset=utf-8", std::string(ssehubd_assets::demo_html), {}};
    }
    if (path == "/ssehub.js" && opts_.demo && !ssehubd_assets::ssehub_js.empty()) {
        if (!get) co_return method_not_allowed("GET");
        co_return response{200, "text/javascript; charset=utf-8", std::string(ssehubd_assets::ssehub_js), {}};
    }
    co_return error_response(404, "not found");
}

asio::awaitable<daemon::response> daemon::publish(request_context& ctx, std::string_view kind) {
    if (!publisher_ok(ctx.req)) {
        log_.warn("publisher_key_refused", {{"remote", ctx.remote}, {"path", ctx.req.path()}});
        response r = error_response(401, "publisher key missing or wrong (X-Publisher-Key or Authorization: Bearer)");
        r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"ssehubd\""});
        co_return r;
    }
    auto unavailable = [this](std::string message) {
        counters_.publish_failures.fetch_add(1);
        response r = error_response(503, std::move(message));
        r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        return r;
    };
    if (draining_.load()) co_return unavailable("shutting down");

    const api::limits lim{opts_.max_topic_length, opts_.max_topics, 64};
    std::optional<ssehub::event> ev;
    if (kind.empty()) {
        auto parsed = api::parse_publish(ctx.body, lim);
        if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
        ev = std::move(std::get<ssehub::event>(parsed));
    } else {
        auto parsed = api::parse_kill_polling(kind, ctx.body, lim);
        if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
        ev = std::move(std::get<std::optional<ssehub::event>>(parsed));
        if (!ev) co_return json_response(202, {{"id", nullptr}, {"matched", 0}});
    }
    if (redis_) {  // through Redis: every node (this one included) delivers it once
        const auto rr = co_await redis_->publish(std::move(*ev));
        if (rr.ec == ssehub::error::invalid_topic) co_return error_response(400, "topics: not a valid topic", "topics");
        if (rr.ec == ssehub::error::no_target)
            co_return error_response(400, "topics: at least one topic (or a group) is required", "topics");
        if (rr.ec == ssehub::error::invalid_event_field)
            co_return error_response(400, "id: not accepted with --redis (ids are Redis Stream ids); type: no CR, LF or NUL", "id");
        if (rr.ec) {
            log_.warn("redis_publish_failed", {{"node", redis_->node()}, {"error", rr.ec.message()}});
            co_return unavailable("redis unavailable, retry later");
        }
        log_.debug("publish", {{"id", rr.id}, {"nodes", rr.nodes}, {"kind", kind.empty() ? "event" : kind}});
        co_return json_response(202, {{"id", rr.id}, {"nodes", rr.nodes}});
    }
    std::error_code ec;
    const ssehub::publish_result r =
        co_await hub_->async_publish(std::move(*ev), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == ssehub::error::intake_full) co_return unavailable("publish intake full, retry later");
    if (ec == ssehub::error::hub_stopped) co_return unavailable("shutting down");
    if (ec == ssehub::error::expired) co_return json_response(202, {{"id", nullptr}, {"matched", 0}, {"expired", true}});
    if (ec == ssehub::error::invalid_topic) co_return error_response(400, "topics: not a valid topic", "topics");
    if (ec == ssehub::error::no_target) co_return error_response(400, "topics: at least one topic (or a group) is required", "topics");
    if (ec == ssehub::error::invalid_event_field)
        co_return error_response(400, "id, type: must not contain CR, LF or NUL", "id");
    if (ec) co_return error_response(500, "publish failed: " + ec.message());
    log_.debug("publish", {{"id", r.id}, {"matched", r.matched}, {"kind", kind.empty() ? "event" : kind}});
    co_return json_response(202, {{"id", r.id}, {"matched", r.matched}});
}

asio::awaitable<daemon::response> daemon::tickets(request_context& ctx) {
    if (!tickets_) co_return error_response(404, "tickets are not enabled (start ssehubd with --auth tickets)");
    if (!publisher_ok(ctx.req)) {
        log_.warn("publisher_key_refused", {{"remote", ctx.remote}, {"path", "/tickets"}});
        response r = error_response(401, "publisher key missing or wrong (X-Publisher-Key or Authorization: Bearer)");
        r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"ssehubd\""});
        co_return r;
    }
    if (draining_.load()) {
        response r = error_response(503, "shutting down");
        r.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
        co_return r;
    }
    const api::limits lim{opts_.max_topic_length, opts_.max_topics, 64};
    auto parsed = api::parse_ticket_request(ctx.body, lim);
    if (auto* e = std::get_if<api::error>(&parsed)) co_return from_api_error(*e);
    const auto& t = std::get<api::ticket_request>(parsed);
    const auto ttl = t.ttl.value_or(opts_.ticket_ttl);
    std::string ticket;
    try {
        ticket = co_await ssehub::issue_ticket(tickets_, ssehub::ticket_value(t.topics, t.metadata), ttl);
    } catch (const std::system_error& e) {
        log_.warn("ticket_store_refused", {{"error", e.code().message()}});
        response r = error_response(503, "ticket store full, retry later");
        r.headers.push_back({"Retry-After", "1"});
        co_return r;
    }
    counters_.tickets_issued.fetch_add(1);
    log_.info("ticket_issued", {{"topics", t.topics.size()}, {"ttl_ms", ttl.count()}});  // never the ticket itself
    co_return json_response(201, {{"ticket", ticket}, {"expires_in_ms", ttl.count()}});
}

daemon::response daemon::visibility(request_context& ctx) {
    const std::string* ct = ctx.req.find("Content-Type");
    auto parsed = api::parse_visibility(ctx.body, ct ? std::string_view(*ct) : std::string_view());
    if (auto* e = std::get_if<api::error>(&parsed)) return from_api_error(*e);
    const auto& v = std::get<api::visibility_request>(parsed);

    bool owner = false;
    std::optional<conn_record> rec;
    {
        std::lock_guard lock(conns_mu_);
        if (auto it = conns_.find(v.connection_id); it != conns_.end()) rec = it->second;
    }
    if (rec) {
        if (!rec->owner.empty() && !v.owner.empty()) owner = same_secret(rec->owner, v.owner);
        if (!owner && !rec->metadata.empty()) owner = same_subscriber(ctx.req, rec->metadata, opts_);
    }
    // An unknown id and someone else's id get the same answer: no oracle for ids.
    if (!owner || !hub_->set_paused(v.connection_id, v.hidden)) {
        counters_.auth_failures.fetch_add(1);
        log_.warn("visibility_refused", {{"remote", ctx.remote}, {"conn", v.connection_id}});
        return error_response(403, "not the owner of this connection (or it is gone)");
    }
    log_.info(v.hidden ? "hidden" : "visible", {{"conn", v.connection_id}});
    return json_response(200, {{"connection_id", v.connection_id}, {"hidden", v.hidden}});
}

daemon::response daemon::stats(request_context& ctx) {
    // Per-connection details are for the publisher (open when no key is configured).
    const bool details = publisher_ok(ctx.req);
    const auto s = hub_->stats(details, opts_.metrics_topic_series);
    return {200, "application/json", render_stats_json(s, counters_, details), {}};
}

}  // namespace ssehubd
