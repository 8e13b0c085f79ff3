// The ssehubd server: one hub, one acceptor, HTTP routes around the hub's
// event stream, metrics, and a graceful drain on SIGTERM/SIGINT. Its member
// functions live in three files: http_server.cpp (accept, keep-alive,
// request reading, handing event streams to the hub), routes.cpp (what each
// path answers) and daemon_state.cpp (construction, the hub's configuration
// and hooks, drain, the state shared by the other two).
// Thread safety: construct and start on one thread; afterwards every member
// is used from the io_context's threads only (shared state is locked or atomic).
#pragma once

#include "limits.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "publisher.hpp"
#include "redis_bridge.hpp"

#include <ssehub/http.hpp>
#include <ssehub/hub.hpp>
#include <ssehub/ticket_store.hpp>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#ifdef SSEHUBD_HAS_TLS
#include <ssehub/tls_stream.hpp>
#endif
#ifdef SSEHUBD_HAS_H2
#include <ssehub/h2/session.hpp>
#endif

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ssehubd {

class jwt_verifier;
class tls_server;  // tls.hpp
class mercure_endpoint;  // mercure.hpp (--mercure)
#ifdef SSEHUBD_HAS_TLS
using tls_stream = ssehub::tls_stream;  // no buffers of its own (docs/tls-and-http2.md, "Memory")
#endif

class daemon {
public:
    // The one topic of the dashboards' hub (admin_hub_).
    static constexpr std::string_view admin_topic = "admin.stats";

    // Binds the listening socket (throws std::system_error when it cannot).
    // `loops`: one event loop per thread (--threads N), each with one shard of
    // the hub; connections are accepted onto them round-robin. loops[0] also
    // runs the acceptor, the signals and the Redis bridge.
    daemon(std::vector<asio::io_context*> loops, options opts, logger& log);
    ~daemon();
    daemon(const daemon&) = delete;
    daemon& operator=(const daemon&) = delete;

    // "http://127.0.0.1:8080" (the bound port, also when --listen asked for 0).
    std::string url() const;

    // Starts accepting, watching signals and the stats watcher.
    void start();

    // Refuses new streams (503) and publishes, sends every client the
    // shutdown event, waits for them up to --drain-timeout-ms, then stops the
    // event loops. Calling it again does nothing.
    void begin_drain(std::string_view why);

    // Kept only for a connection that has an owner or metadata (what
    // visibility ownership checks); others are never found.
    struct conn_record {
        std::string owner;          // ?owner= secret of the page that opened it ("" if none)
        ssehub::metadata metadata;  // what auth said about the subscriber
    };

    // One answer of a route (never the event stream).
    struct response {
        int status = 200;
        std::string content_type = "application/json";
        std::string body;
        std::vector<ssehub::http::header> headers;
    };
    struct request_context {
        ssehub::http::request& req;
        std::string body;
        std::string remote;
    };

    // http_server.cpp
    // How reading one request went: status 0, or a status to answer with (and
    // `unread` when bytes the client is still sending were left unread).
    struct read_outcome {
        int status = 0;
        std::string message;
        bool unread = false;
        bool gone = false;       // client closed before a whole request: no answer
        bool head_done = false;  // the head parsed (path and method are known)
        bool extra = false;      // bytes after this request arrived (pipelining): answered, then closed
    };

private:
    // What one event stream's hooks and its completion share: the hub hands
    // it to the hooks as serve_context::user (a shared_ptr to it). Written by
    // on_disconnect, read by the completion after it (the hub orders them).
    // http_server.cpp. Stream: asio::ip::tcp::socket, or tls_stream after
    // its handshake (instantiated there for both).
    asio::awaitable<void> accept_loop();
    template <class Stream>
    asio::awaitable<void> session(Stream sock);
    // One request on `sock`; true when the connection stays open for another.
    template <class Stream>
    asio::awaitable<bool> serve_request(Stream& sock, const std::string& remote, bool may_keep);
    template <class Stream>
    asio::awaitable<bool> answer(Stream& sock, read_outcome got, ssehub::http::request& req, std::string body,
                                 const std::string& remote, bool may_keep);
#ifdef SSEHUBD_HAS_H2
    // HTTP/2 (ALPN h2 after tls_session's handshake, or --h2c): one
    // ssehub::h2::session on the connection; each request is answered (or
    // streamed) by answer(), as over HTTP/1.1. GOAWAY at drain.
    template <class Stream>
    asio::awaitable<void> h2_session(Stream sock);
    asio::awaitable<void> h2_request(ssehub::h2::stream st);
    asio::awaitable<void> h2_goaway();
#endif
    // An event stream: handed to the hub (serve_options: CORS headers, the
    // peer as context); stream_refused logs a refusal. `admin`: the /admin
    // dashboard's stream, served by admin_hub_ instead.
    // `ip_slot` (--max-streams-per-ip) is held until the serve completes.
    template <class Stream>
    void start_stream(Stream sock, ssehub::http::request req, std::vector<ssehub::http::header> cors,
                      const std::string& remote, ip_stream_limit::slot ip_slot, bool admin = false);
    void stream_refused(const ssehub::serve_outcome& outcome);

    // tls.cpp (--tls-cert/--tls-key): the handshake within
    // --tls-handshake-timeout-ms, then session(); failures counted.
    asio::awaitable<void> tls_session(asio::ip::tcp::socket sock);

    // routes.cpp
    asio::awaitable<response> route(request_context& ctx);
    asio::awaitable<response> publish(request_context& ctx, std::string_view kind);
    asio::awaitable<response> publish_batch(request_context& ctx, const publisher& who, const api::limits& lim);
    asio::awaitable<response> tickets(request_context& ctx);
    response visibility(request_context& ctx);
    response stats(request_context& ctx);
    // admin_routes.cpp: /presence, /presence/count, /connections, /connections/...
    asio::awaitable<response> admin(request_context& ctx);
    // The dashboard: GET /admin (the page), and /admin/events when it is not
    // streamed (refused, or draining). The stream itself is served by
    // admin_hub_, a second hub on the first event loop with one topic whose
    // retained, coalesced `stats` event admin_feed() replaces every
    // --admin-feed-interval-ms while someone watches (docs/admin-dashboard.md).
    response admin_page(request_context& ctx);
    // Admin key (X-Publisher-Key, Bearer or Basic), or loopback without any key.
    bool admin_allowed(const ssehub::http::request& req, std::string_view remote) const;
    asio::awaitable<void> admin_feed();
    ssehub::hub_config admin_hub_config();
    ssehub::hub_config stream_config(std::string_view log_name);  // daemon_state.cpp: what both hubs share
    asio::awaitable<std::string> admin_snapshot();
    // mercure_routes.cpp (--mercure): POST /.well-known/mercure, the
    // subscriptions API, and the subscription events of a connection
    // coming (on_open) or going (on_disconnect).
    asio::awaitable<response> mercure_publish(request_context& ctx);
    asio::awaitable<response> mercure_subscriptions(request_context& ctx);
    void announce_subscriptions(const ssehub::connection& c, bool active);
    // Whether `req` is for the Mercure endpoint (false without --mercure).
    bool is_mercure(const ssehub::http::request& req) const;

    // daemon_state.cpp
    asio::awaitable<void> drain();
    asio::awaitable<void> watch();

    ssehub::hub_config hub_config();
    // An unscoped publisher: true while publishing is open (no key of any
    // kind configured), else with the --publisher-key. Scoped keys are not
    // (publish and tickets check their scope with identify_publisher).
    bool publisher_ok(const ssehub::http::request& req) const;
    // The request carries the configured key (false when none is configured).
    bool has_publisher_key(const ssehub::http::request& req) const;
    std::optional<std::string> cors_origin(const ssehub::http::request& req) const;

    // Publisher keys and limits (daemon_state.cpp). The publisher a request
    // proves (see publisher.hpp); nullopt: refused (401). Without any
    // configured key every request is the "anonymous" publisher.
    std::optional<publisher> identify_publisher(const ssehub::http::request& req) const;
    // Admin routes (/stats?connections=1, the admin API): the --admin-key,
    // or without one the unscoped --publisher-key. False when neither is set.
    bool is_admin(const ssehub::http::request& req) const;
    bool admin_configured() const { return !opts_.admin_key.empty() || !opts_.publisher_key.empty(); }
    // A 429 for `who` when its --publish-rate bucket is empty (counted), else nullopt.
    std::optional<response> rate_limited(const publisher& who, const std::string& remote);
    int retry_after_seconds() const;

    std::vector<asio::io_context*> loops_;
    asio::io_context& ioc_;  // loops_[0]
    std::size_t next_loop_ = 0;  // accept loop only
    const options opts_;
    logger& log_;
    daemon_counters counters_;
    ssehub::any_ticket_store tickets_;  // --auth tickets only (memory, or Redis with --redis)
    std::shared_ptr<const jwt_verifier> jwt_;  // --auth jwt only
    std::unique_ptr<redis_bridge> redis_;  // --redis only
    std::unique_ptr<tls_server> tls_;      // --tls-cert only: the certificate (reloaded on SIGHUP)
    std::unique_ptr<mercure_endpoint> mercure_;  // --mercure only
    asio::ip::tcp::acceptor acceptor_;
    asio::signal_set signals_;
    asio::steady_timer watch_timer_;
    std::atomic<bool> draining_{false};
    ip_stream_limit ip_streams_;   // --max-streams-per-ip
    publish_rate_limit publish_rates_;  // --publish-rate, --publish-burst

    // Connections by id, for visibility ownership (only those with an owner
    // or metadata; removed at on_disconnect, or when the hub refused the
    // stream after on_connect).
    std::mutex conns_mu_;
    std::unordered_map<std::string, conn_record> conns_;

#ifdef SSEHUBD_HAS_H2
    // Open HTTP/2 sessions, for their GOAWAY at drain.
    std::mutex h2_mu_;
    std::vector<std::weak_ptr<ssehub::h2::session>> h2_sessions_;
#endif

    asio::steady_timer admin_timer_;        // admin_feed()
    std::optional<ssehub::hub> admin_hub_;  // the /admin dashboard's streams
    std::optional<ssehub::hub> hub_;  // last member: destroyed first
};

}  // namespace ssehubd
