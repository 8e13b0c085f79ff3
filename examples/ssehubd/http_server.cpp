// The daemon's HTTP server: accepting, HTTP/1.1 keep-alive, reading each
// request (head with ssehub::http::async_read_request, then a bounded body),
// writing answers, and handing event streams to the hub.
#include "daemon.hpp"

#include "responses.hpp"
#ifdef SSEHUBD_HAS_MERCURE
#include "mercure.hpp"
#endif

#include <ssehub/http_read.hpp>
#ifdef SSEHUBD_HAS_H2
#include <ssehub/h2/session.hpp>
#endif

#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <array>
#include <chrono>
#include <type_traits>

namespace ssehubd {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using json = nlohmann::json;
namespace http = ssehub::http;

namespace {

// The TCP socket under a stream (a socket, or a TLS stream's next layer).
template <class Stream>
auto& tcp_of(Stream& s) {
    if constexpr (requires { s.next_layer(); }) return s.next_layer();
    else return s;
}

// TLS: decrypted bytes, or records not yet decrypted, already read from the
// socket (the next request may be there while the socket has nothing more).
template <class Stream>
bool has_buffered(Stream& s) {
#ifdef SSEHUBD_HAS_TLS
    if constexpr (std::is_same_v<Stream, tls_stream>) return s.has_pending();
#endif
    (void)s;
    return false;
}

// The end of what we send on a connection that closes after this answer:
// TLS close_notify (bounded), then the FIN.
template <class Stream>
asio::awaitable<void> end_sending(Stream& s, std::chrono::milliseconds timeout) {
#ifdef SSEHUBD_HAS_TLS
    if constexpr (std::is_same_v<Stream, tls_stream>) co_await ssehub::stream_goodbye<tls_stream>::send(s, timeout);
#endif
    (void)timeout;
    std::error_code ec;
    tcp_of(s).shutdown(asio::socket_base::shutdown_send, ec);
    co_return;
}

// The peer's address alone (what --max-streams-per-ip counts by).
template <class Socket>
std::string peer_address(const Socket& s) {
    std::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    return ec ? std::string("?") : ep.address().to_string();
}

template <class Socket>
std::string endpoint_text(const Socket& s) {
    std::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    if (ec) return "?";
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

using read_outcome = daemon::read_outcome;


// The body of Content-Length bytes (POST/PUT/PATCH) after a parsed head;
// `body` holds what came with the head.
template <class Stream>
asio::awaitable<read_outcome> read_body(Stream& sock, const http::request& req, std::string& body,
                                        std::size_t max_body) {
    read_outcome out;
    out.head_done = true;
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
    std::array<char, 4096> buf;
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

// The head (ssehub's reader: 408, 431, 400/501/505), then the body; the
// whole request within `timeout`.
template <class Stream>
asio::awaitable<read_outcome> read_request(Stream& sock, http::request_parser& parser, std::string& body,
                                           std::size_t max_body, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::error_code ec;
    co_await http::async_read_request(sock, parser, body, timeout, asio::redirect_error(asio::use_awaitable, ec));
    read_outcome out;
    if (ec) {
        out.status = http::error_status(ec, parser);
        if (out.status == 0) {
            out.gone = true;
        } else {
            out.unread = true;
            out.message = ec == ssehub::error::request_timeout ? "request not received in time"
                          : parser.error_message().empty() ? std::string(http::reason_phrase(out.status))
                                                           : std::string(parser.error_message());
        }
        co_return out;
    }
    asio::steady_timer t(co_await asio::this_coro::executor, deadline);
    // Timers here report cancellation as an error code: no exception thrown
    // and unwound per request when the other side of `||` wins.
    std::error_code t_ec;
    auto r = co_await (read_body(sock, parser.get(), body, max_body) ||
                       t.async_wait(asio::redirect_error(asio::use_awaitable, t_ec)));
    if (r.index() == 1 && t_ec) {  // the whole read was cancelled
        out.gone = true;
        co_return out;
    }
    if (r.index() == 1) {
        out.status = 408;
        out.message = "request not received in time";
        out.unread = true;
        out.head_done = true;
        co_return out;
    }
    co_return std::get<0>(std::move(r));
}

// Reads and drops what the client still sends (bounded), so that closing the
// socket does not reset the connection before the client read our answer.
template <class Stream>
asio::awaitable<void> linger(Stream& sock) {
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
#ifdef SSEHUBD_HAS_H2
        if (opts_.h2c) {  // cleartext HTTP/2 with prior knowledge
            asio::co_spawn(loop, h2_session(std::move(sock)), [this](std::exception_ptr e) { log_.exception("h2_session", e); });
            continue;
        }
#endif
#ifdef SSEHUBD_HAS_TLS
        if (tls_) {  // the handshake first (tls.cpp), on the connection's loop
            asio::co_spawn(loop, tls_session(std::move(sock)), [this](std::exception_ptr e) { log_.exception("session", e); });
            continue;
        }
#endif
        asio::co_spawn(loop, session(std::move(sock)), [this](std::exception_ptr e) { log_.exception("session", e); });
    }
}

template <class Stream>
asio::awaitable<void> daemon::session(Stream sock) {
    const std::string remote = endpoint_text(tcp_of(sock));
    // HTTP/1.1 keep-alive: a publisher reuses its connection for up to
    // keepalive_requests requests; between them it may stay idle for
    // keepalive_timeout. Pipelined bytes are never parsed: a request followed
    // by more bytes is answered and the connection closed.
    for (std::size_t served = 0;; ++served) {
        if (served > 0 && !has_buffered(sock)) {
            asio::steady_timer idle(co_await asio::this_coro::executor, opts_.keepalive_timeout);
            std::error_code wait_ec, idle_ec;
            auto w = co_await (tcp_of(sock).async_wait(asio::socket_base::wait_read,
                                               asio::redirect_error(asio::use_awaitable, wait_ec)) ||
                               idle.async_wait(asio::redirect_error(asio::use_awaitable, idle_ec)));
            if (w.index() == 1 || wait_ec || draining_.load()) break;  // idle, gone or draining: close quietly
        }
        if (!co_await serve_request(sock, remote, served + 1 < opts_.keepalive_requests)) break;
    }
    std::error_code ec;
    tcp_of(sock).close(ec);
}

template <class Stream>
asio::awaitable<bool> daemon::serve_request(Stream& sock, const std::string& remote, bool may_keep) {
    http::request_parser parser(opts_.max_head);
    std::string body;
    const read_outcome got = co_await read_request(sock, parser, body, opts_.max_body, opts_.head_timeout);
    if (got.gone) co_return false;
    co_return co_await answer(sock, got, parser.get(), std::move(body), remote, may_keep);
}

// Routes one request that was read whole (`got`: how reading went) and
// writes the answer, or hands an event stream to the hub.
template <class Stream>
asio::awaitable<bool> daemon::answer(Stream& sock, read_outcome got, http::request& req, std::string body,
                                     const std::string& remote, bool may_keep) {
    const auto cors = cors_origin(req);
    std::vector<http::header> cors_headers;
    if (cors) {
        cors_headers.push_back({"Access-Control-Allow-Origin", *cors});
        cors_headers.push_back({"Access-Control-Allow-Credentials", "true"});
        cors_headers.push_back({"Vary", "Origin"});
    }
    const std::string path(got.head_done ? req.path() : std::string_view());

    bool over_ip_limit = false;
    // The /admin dashboard's stream: only with the admin key (else route() refuses it).
    const bool admin_stream = got.status == 0 && path == "/admin/events" && admin_allowed(req, remote);
    if (got.status == 0 && (path == "/events" || is_mercure(req) || admin_stream) && req.method == "GET" &&
        !draining_.load()) {
        // --max-streams-per-ip: the slot is held until the hub's serve completes.
        if (auto slot = ip_streams_.try_take(peer_address(tcp_of(sock)))) {
            // Handed over: this frame and the session's (parser, body, buffers,
            // timers) end now instead of living as long as the stream.
            start_stream(std::move(sock), std::move(req), std::move(cors_headers), remote, std::move(slot), admin_stream);
            co_return false;
        }
        over_ip_limit = true;
    }

    response res;
    if (got.status != 0) {
        res = error_response(got.status, got.message);
    } else if (over_ip_limit) {
        counters_.streams_refused_per_ip.fetch_add(1);
        log_.debug("stream_refused", {{"remote", remote}, {"status", 429}, {"detail", "max-streams-per-ip"}});
        res = error_response(429, "too many event streams from this address (--max-streams-per-ip " +
                                      std::to_string(opts_.max_streams_per_ip) + ")");
        res.headers.push_back({"Retry-After", std::to_string(retry_after_seconds())});
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

    const bool keep = may_keep && got.status == 0 && !got.unread && !got.extra && res.status < 500 && !over_ip_limit &&
                      req.version_minor == 1 && req.keep_alive() && !draining_.load();
    auto headers = std::move(res.headers);
    headers.insert(headers.end(), cors_headers.begin(), cors_headers.end());
    headers.push_back({"Cache-Control", "no-store"});
    headers.push_back({"X-Content-Type-Options", "nosniff"});
    std::error_code ec;
#ifdef SSEHUBD_HAS_H2
    if constexpr (std::is_same_v<Stream, ssehub::h2::stream>) {  // a HEADERS frame, the body, END_STREAM
        sock.send_head(res.status, http::response_fields(res.status, res.content_type, res.body.size(), headers));
        if (!http::bodiless(res.status) && !res.body.empty())
            co_await asio::async_write(sock, asio::buffer(res.body), asio::redirect_error(asio::use_awaitable, ec));
        sock.shutdown(asio::socket_base::shutdown_send, ec);
        co_return false;
    }
#endif
    const std::string wire = http::make_response(res.status, res.content_type, res.body, headers, !keep);
    co_await asio::async_write(sock, asio::buffer(wire), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    if (keep) co_return true;
    co_await end_sending(sock, opts_.write_timeout);
    if (got.unread) {
        asio::steady_timer t(co_await asio::this_coro::executor, 1s);
        std::error_code t_ec;
        co_await (linger(sock) || t.async_wait(asio::redirect_error(asio::use_awaitable, t_ec)));
    }
    co_return false;
}

template <class Stream>
void daemon::start_stream(Stream sock, http::request req, std::vector<http::header> cors,
                          const std::string& remote, ip_stream_limit::slot ip_slot, bool admin) {
    // The serve contract: CORS headers go into the stream head and into any
    // refusal the hub writes; the hooks see the peer. A stream that starts is
    // logged by on_open and on_disconnect; one the hub refuses, by its outcome.
    ssehub::serve_options opts;
    opts.headers = std::move(cors);
#ifdef SSEHUBD_HAS_MERCURE
    if (is_mercure(req))
        for (auto& h : mercure_->stream_headers(req)) opts.headers.push_back(std::move(h));
#endif
    opts.context.remote = remote;
    if (admin) {  // the dashboards' own hub: nothing of the watched hub's hooks
        opts.on_open = [this](const ssehub::connection& c) {
            counters_.count_request("/admin/events", 200);
            log_.info("admin_stream", {{"conn", c.id()}, {"remote", c.context().remote}});
        };
        admin_hub_->async_serve(std::move(sock), std::move(req), std::move(opts),
                                [this, ip_slot = std::move(ip_slot)](std::exception_ptr e, ssehub::serve_outcome o) {
                                    if (e) log_.exception("admin_stream", e);
                                    else if (o.status != 0 && o.status != 200) counters_.count_request("/admin/events", o.status);
                                });
        return;
    }
    opts.on_open = [this](const ssehub::connection& c) {
        counters_.count_request("/events", 200);  // counted when answered, as every request
        if (redis_) redis_->joined(c);  // cluster-wide presence (--redis)
        json meta = json::object();
        for (const auto& [k, v] : c.metadata()) meta[k] = v;
        log_.info("connect",
                  {{"conn", c.id()}, {"remote", c.context().remote}, {"topics", c.topics()}, {"metadata", std::move(meta)}});
#ifdef SSEHUBD_HAS_MERCURE
        announce_subscriptions(c, true);  // --mercure-subscriptions
#endif
    };
    // The hub serves it on a strand of its own on the socket's event loop
    // (its shard); no frame of ours stays alive beside the stream.
    hub_->async_serve(std::move(sock), std::move(req), std::move(opts),
                      // ip_slot: released when this handler goes, whatever ended the stream.
                      [this, ip_slot = std::move(ip_slot)](std::exception_ptr e, ssehub::serve_outcome outcome) {
                          if (e) {
                              log_.exception("stream", e);
                              return;
                          }
                          stream_refused(outcome);
                      });
}

void daemon::stream_refused(const ssehub::serve_outcome& o) {
    if (o.reason != ssehub::serve_reason::rejected && o.reason != ssehub::serve_reason::auth_failed) {
        if (o.status != 0 && o.status != 200) counters_.count_request("/events", o.status);  // (200: at on_open)
        return;  // streamed (logged by on_disconnect), or the client left before a whole request
    }
    counters_.count_request("/events", o.status);
    if (!o.connection_id.empty()) {  // refused after on_connect recorded it
        std::lock_guard lock(conns_mu_);
        conns_.erase(o.connection_id);
    }
    if (o.reason == ssehub::serve_reason::auth_failed) {
        counters_.auth_failures.fetch_add(1);
        // The hub never puts credentials in the detail.
        log_.warn("auth_failed", {{"remote", o.remote}, {"status", o.status}, {"reason", o.detail}});
    } else {
        log_.write(o.status >= 500 ? log_level::info : log_level::debug, "stream_refused",
                   {{"remote", o.remote}, {"status", o.status}, {"detail", o.detail}});
    }
}

#ifdef SSEHUBD_HAS_H2
template <class Stream>
asio::awaitable<void> daemon::h2_session(Stream sock) {
    std::error_code ec;
    const auto peer = tcp_of(sock).remote_endpoint(ec);
    ssehub::h2::server_config cfg;
    cfg.max_concurrent_streams = static_cast<std::uint32_t>(opts_.h2_max_streams);
    cfg.max_header_list_size = static_cast<std::uint32_t>(opts_.h2_max_header_list);
    cfg.max_request_body = opts_.max_body;
    cfg.rapid_reset_burst = opts_.h2_reset_burst;
    cfg.rapid_reset_rate = opts_.h2_reset_rate;
    cfg.idle_timeout = opts_.keepalive_timeout;
    cfg.request_timeout = opts_.head_timeout;
    // Each request: a coroutine of its own on this connection's loop.
    auto session = ssehub::h2::session::create(sock.get_executor(), cfg, peer, [this, ex = sock.get_executor()](ssehub::h2::stream st) {
        counters_.h2_streams.fetch_add(1);
        asio::co_spawn(ex, h2_request(std::move(st)), [this](std::exception_ptr e) { log_.exception("h2_request", e); });
    });
    {
        std::lock_guard lock(h2_mu_);
        std::erase_if(h2_sessions_, [](const auto& w) { return w.expired(); });
        h2_sessions_.push_back(session);
    }
    counters_.h2_connections.fetch_add(1);
    counters_.h2_connections_open.fetch_add(1);
    if (draining_.load()) session->shutdown();
    co_await ssehub::h2::serve_connection(std::move(sock), session);
    counters_.h2_connections_open.fetch_sub(1);
}

asio::awaitable<void> daemon::h2_request(ssehub::h2::stream st) {
    // Moved out (the body first): an event stream keeps no copy of its head.
    std::string body = std::move(st.body());
    http::request req = st.take_request();
    const std::string remote = req.remote;
    read_outcome got;
    got.head_done = true;
    co_await answer(st, got, req, std::move(body), remote, false);
}

asio::awaitable<void> daemon::h2_goaway() {
    std::vector<std::shared_ptr<ssehub::h2::session>> open;
    {
        std::lock_guard lock(h2_mu_);
        for (const auto& w : h2_sessions_)
            if (auto s = w.lock()) open.push_back(std::move(s));
        h2_sessions_.clear();
    }
    for (const auto& s : open) s->shutdown();
    // The GOAWAYs go out before the event loops stop: wait (bounded) for
    // the connections to close.
    const auto deadline = std::chrono::steady_clock::now() + opts_.write_timeout;
    while (counters_.h2_connections_open.load() > 0 && std::chrono::steady_clock::now() < deadline)
        co_await sleep_for(5ms);
}

template asio::awaitable<void> daemon::h2_session(asio::ip::tcp::socket);
#endif

#ifdef SSEHUBD_HAS_TLS
template asio::awaitable<void> daemon::session(tls_stream);
#ifdef SSEHUBD_HAS_H2
template asio::awaitable<void> daemon::h2_session(tls_stream);
#endif
#endif

}  // namespace ssehubd
