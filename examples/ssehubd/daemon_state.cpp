// The daemon's state: construction (Redis, tickets, the hub, the listening
// socket), the hub's configuration and hooks, start, drain and the watcher,
// and the checks the routes share (CORS origin, publisher key).
#include "daemon.hpp"
#include "nats_bridge.hpp"
#include "mercure.hpp"  // (the unique_ptr's type; used only with SSEHUBD_HAS_MERCURE)

#include "api.hpp"
#include "auth_setup.hpp"
#include "tls.hpp"
#include "responses.hpp"

#include <asio/co_spawn.hpp>
#include <asio/redirect_error.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace ssehubd {

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace http = ssehub::http;

namespace {

ssehub::logger::level library_level(log_level l) {
    switch (l) {
    case log_level::debug: return ssehub::logger::level::debug;
    case log_level::info: return ssehub::logger::level::info;
    case log_level::warn: return ssehub::logger::level::warning;
    case log_level::error: return ssehub::logger::level::error;
    }
    return ssehub::logger::level::error;
}

log_level daemon_level(ssehub::logger::level l) {
    switch (l) {
    case ssehub::logger::level::debug: return log_level::debug;
    case ssehub::logger::level::info: return log_level::info;
    case ssehub::logger::level::warning: return log_level::warn;
    default: return log_level::error;
    }
}

#ifdef SSEHUBD_HAS_MERCURE
// A coroutine with its state as parameters (not a capturing coroutine lambda).
asio::awaitable<ssehub::auth_outcome> authenticate_mercure_or(ssehub::authenticator inner, mercure_endpoint* m,
                                                              const http::request& req) {
    if (req.path() == mercure_endpoint::path) co_return m->subscribe(req);
    if (inner) co_return co_await inner(req);
    co_return ssehub::auth_outcome{};
}
#endif

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
      watch_timer_(acceptor_.get_executor()),
      ip_streams_(opts_.max_streams_per_ip),
      publish_rates_(opts_.publish_rate, opts_.publish_burst, opts_.publish_rate_keys),
      admin_timer_(acceptor_.get_executor()) {
    counters_.start_time_seconds =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (!opts_.redis_url.empty() || !opts_.redis_cluster.empty()) {
        std::string why;
        redis_ = redis_bridge::create(ioc_.get_executor(), opts_, log_, &why);
        if (!redis_) throw std::runtime_error("--redis: " + why);
    }
    if (!opts_.nats_url.empty()) {  // the same engine interface as --redis
        std::string why;
        redis_ = make_nats_bridge(ioc_.get_executor(), opts_, log_, &why);
        if (!redis_) throw std::runtime_error("--nats: " + why);
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
#ifdef SSEHUBD_HAS_MERCURE
    if (opts_.mercure) mercure_ = std::make_unique<mercure_endpoint>(opts_);
    // With --redis each node routes the updates it receives, live or replayed.
    if (mercure_ && redis_) redis_->set_transform([m = mercure_.get()](ssehub::event& ev) { m->route(ev); });
#endif
    std::vector<asio::any_io_executor> shard_executors;
    for (auto* loop : loops_) shard_executors.push_back(loop->get_executor());
    hub_.emplace(std::move(shard_executors), hub_config());  // one shard per event loop
#ifdef SSEHUBD_HAS_MERCURE
    // The router evaluates a template or URL pattern only while (and a
    // replay window after) some connection subscribes to it.
    if (mercure_)
        hub_->watch_patterns([m = mercure_.get()](const std::string& pattern, bool up) { m->routes().on_pattern(pattern, up); });
#endif
    admin_hub_.emplace(std::vector<asio::any_io_executor>{ioc_.get_executor()}, admin_hub_config());
    if (redis_) redis_->start(*hub_);  // Redis down at start is fine: the bridge retries with backoff

    asio::ip::tcp::resolver resolver(ioc_);
    const auto results = resolver.resolve(opts_.host, std::to_string(opts_.port), asio::ip::resolver_base::passive);
    const asio::ip::tcp::endpoint ep = *results.begin();
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
#ifdef SSEHUBD_HAS_TLS
    if (!opts_.tls_cert.empty()) tls_ = std::make_unique<tls_server>(opts_, log_, acceptor_.get_executor());
#endif
}

daemon::~daemon() = default;

std::string daemon::url() const {
    const auto ep = acceptor_.local_endpoint();
    const auto a = ep.address();
    return std::string(tls_ ? "https://" : "http://") + (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

int daemon::retry_after_seconds() const {
    return static_cast<int>(std::max<std::int64_t>(1, (opts_.retry.count() + 999) / 1000));
}

// What both of the daemon's hubs take from the flags: how a stream is read,
// kept alive and given up on, and where the library's log goes (as
// {"msg":`log_name`,"detail":...}: a hook or a replayer that threw).
ssehub::hub_config daemon::stream_config(std::string_view log_name) {
    ssehub::hub_config cfg;
    cfg.heartbeat_interval = opts_.heartbeat;
    cfg.retry = opts_.retry;
    cfg.write_timeout = opts_.write_timeout;
    cfg.slow_consumer_timeout = opts_.slow_consumer_timeout;
    cfg.max_request_head = opts_.max_head;
    cfg.request_head_timeout = opts_.head_timeout;
    cfg.log = ssehub::logger(library_level(opts_.level), [this, name = std::string(log_name)](ssehub::logger::level l,
                                                                                              std::string_view msg) {
        log_.write(daemon_level(l), name, {{"detail", msg}});
    });
    return cfg;
}

ssehub::hub_config daemon::hub_config() {
    ssehub::hub_config cfg = stream_config("ssehub");
    cfg.send_queue = opts_.send_queue;
    cfg.batch_delay = opts_.batch_delay;
    cfg.batch_above_deliveries = opts_.batch_above_deliveries;
    cfg.single_thread_contexts = true;  // main.cpp runs each event loop on one thread of its own
    cfg.publish_intake = opts_.publish_intake;
    cfg.flush_interval = opts_.flush;
    cfg.flush_min = opts_.flush_min;
    cfg.flush_max = opts_.flush_max;
    cfg.max_batched = opts_.max_batched;
    cfg.max_coalesce_keys = opts_.max_coalesce_keys;
    cfg.max_lifetime = opts_.max_lifetime;
    cfg.auth_expiry_grace = opts_.auth_expiry_grace;
    cfg.max_connections = opts_.max_connections;
    cfg.presence_events = opts_.presence_events;
    cfg.max_presence_page = opts_.max_presence_page;
    cfg.max_topic_length = opts_.max_topic_length;
    cfg.max_topics_per_connection = opts_.max_topics;

    if (opts_.auth == auth_mode::jwt || opts_.publisher_jwt) {  // subscribers' tokens, publishers' or both
        jwt_ = std::make_shared<const jwt_verifier>(opts_, [this](bool ok, std::string_view detail) {
            if (ok) log_.info("jwks_reloaded", {{"file", opts_.jwt_jwks}, {"detail", std::string(detail)}});
            else log_.warn("jwks_reload_failed", {{"file", opts_.jwt_jwks}, {"error", std::string(detail)}, {"kept", "previous keys"}});
        });
    }
    setup_auth_and_replay(cfg, opts_, tickets_, jwt_);
    if (redis_) redis_->configure(cfg);  // the Redis Stream replaces the memory replayer
#ifdef SSEHUBD_HAS_MERCURE
    if (mercure_) {
        // Mercure subscribers authenticate with their own tokens (and their
        // selectors decide the hub topics); every other stream as before.
        cfg.authenticate = [inner = std::move(cfg.authenticate), m = mercure_.get()](const http::request& req) {
            return authenticate_mercure_or(inner, m, req);
        };
    }
#endif

    // Runs after authentication (metadata set; topics set when a ticket
    // decided them), before the hub's topic checks and registration: it
    // records what visibility ownership needs. A stream the hub refuses
    // after this shows in its outcome (stream_refused); one it starts, in
    // serve_options::on_open (start_stream).
    cfg.on_connect = [this](const http::request& req, ssehub::connection& c) -> std::optional<ssehub::rejection> {
        if (c.topics().empty()) {
            if (auto raw = req.query_param("topics")) c.set_topics(http::split_list(*raw));
        }
        conn_record rec;
        if (auto owner = req.query_param("owner"); owner && api::valid_owner(*owner)) rec.owner = std::move(*owner);
        rec.metadata = c.metadata();
        // Without an owner or metadata no visibility request can prove
        // ownership: nothing to keep.
        if (!rec.owner.empty() || !rec.metadata.empty()) {
            std::lock_guard lock(conns_mu_);
            conns_[c.id()] = std::move(rec);
        }
        return std::nullopt;
    };
    cfg.on_disconnect = [this](const ssehub::connection& c) {
        {
            std::lock_guard lock(conns_mu_);
            conns_.erase(c.id());
        }
#ifdef SSEHUBD_HAS_MERCURE
        announce_subscriptions(c, false);  // --mercure-subscriptions
#endif
        if (redis_) redis_->left(c);
        // The stream's end, logged here: its reason is final in on_disconnect,
        // and nothing per stream has to outlive the connection for it.
        log_.info("disconnect", {{"conn", c.id()},
                                 {"remote", c.context().remote},
                                 {"reason", ssehub::to_string(c.end_reason())},
                                 {"sent", c.sent()},
                                 {"dropped", c.dropped()}});
    };
    cfg.on_pause = [this](const ssehub::connection& c) { log_.debug("pause", {{"conn", c.id()}}); };
    cfg.on_resume = [this](const ssehub::connection& c) { log_.debug("resume", {{"conn", c.id()}}); };
    return cfg;
}

// The dashboards' hub: one shard on the first loop, one topic, no replay and
// no authentication of its own (answer() hands it only streams that
// admin_allowed()); its counters stay out of the hub it watches.
ssehub::hub_config daemon::admin_hub_config() {
    ssehub::hub_config cfg = stream_config("ssehub_admin");
    cfg.send_queue = 8;  // one coalesced snapshot at a time is all a dashboard needs
    cfg.max_connections = opts_.admin_max_streams;
    cfg.on_connect = [](const http::request&, ssehub::connection& c) -> std::optional<ssehub::rejection> {
        c.set_topics({std::string(admin_topic)});  // whatever the request named
        return std::nullopt;
    };
    cfg.on_disconnect = [this](const ssehub::connection& c) {
        log_.info("admin_stream_end", {{"conn", c.id()}, {"remote", c.context().remote},
                                       {"reason", ssehub::to_string(c.end_reason())}});
    };
    return cfg;
}

void daemon::start() {
    asio::co_spawn(acceptor_.get_executor(), accept_loop(), [this](std::exception_ptr e) { log_.exception("accept", e); });
    asio::co_spawn(acceptor_.get_executor(), watch(), [this](std::exception_ptr e) { log_.exception("watch", e); });
    asio::co_spawn(acceptor_.get_executor(), admin_feed(), [this](std::exception_ptr e) { log_.exception("admin_feed", e); });
    signals_.async_wait([this](std::error_code ec, int sig) {
        if (ec) return;
        begin_drain(sig == SIGTERM ? "SIGTERM" : "SIGINT");
        // A second signal is harmless: keep listening so it does not kill us.
        signals_.async_wait([this](std::error_code ec2, int) {
            if (!ec2) log_.info("drain_already_running");
        });
    });
    json listen{{"url", url()}, {"auth", to_string(opts_.auth)}, {"publisher_key", !opts_.publisher_key.empty()},
                {"scoped_publisher_keys", opts_.scoped_keys.size()}, {"publisher_jwt", opts_.publisher_jwt},
                {"admin_key", !opts_.admin_key.empty()},
                {"replay_size", opts_.replay_size}, {"demo", opts_.demo}};
    if (redis_) listen["node"] = redis_->node();
#ifdef SSEHUBD_HAS_TLS
    if (tls_) {
        listen["tls"] = tls_->describe();
        tls_->start();
    }
#endif
    log_.info("start", listen);
    const auto addr = acceptor_.local_endpoint().address();
    if (!addr.is_loopback() && opts_.publisher_key.empty() && opts_.scoped_keys.empty() && !opts_.publisher_jwt)
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
        log_.exception("drain", e);
        for (auto* loop : loops_) loop->stop();
    });
}

asio::awaitable<void> daemon::drain() {
    const auto started = std::chrono::steady_clock::now();
    co_await hub_->async_shutdown(opts_.drain_timeout);
    admin_timer_.cancel();
    co_await admin_hub_->async_shutdown(std::min<std::chrono::milliseconds>(opts_.drain_timeout, 1s));  // the dashboards
#ifdef SSEHUBD_HAS_H2
    co_await h2_goaway();  // after every stream's server-shutdown
#endif
    std::error_code ec;
    acceptor_.close(ec);
    watch_timer_.cancel();
    signals_.cancel();
#ifdef SSEHUBD_HAS_TLS
    if (tls_) tls_->stop();
#endif
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
    const auto who = identify_publisher(req);
    return who && !who->scoped;
}

bool daemon::has_publisher_key(const http::request& req) const {
    if (opts_.publisher_key.empty()) return false;
    const std::string_view given = presented_key(req);
    return !given.empty() && same_secret(given, opts_.publisher_key);
}

std::optional<publisher> daemon::identify_publisher(const http::request& req) const {
    const std::string_view given = presented_key(req);
    if (!given.empty()) {
        if (has_publisher_key(req)) return publisher{"publisher-key", false, {}, {}};
        for (const auto& k : opts_.scoped_keys)
            if (same_secret(given, k.key)) return publisher{k.name, true, k.topics, k.tenants};
        if (opts_.publisher_jwt && jwt_ && std::count(given.begin(), given.end(), '.') == 2) {
            ssehub::auth_result r;
            std::string why;
            if (auto ec = jwt_->verify(given, "publish", r, &why)) {
                log_.debug("publisher_jwt_refused", {{"error", why.empty() ? ec.message() : why}});
            } else if (!r.allowed_topics || r.allowed_topics->empty()) {
                log_.debug("publisher_jwt_refused", {{"error", "no publish claim"}});
            } else {
                publisher p{"jwt", true, std::move(*r.allowed_topics), {}};
                if (auto sub = r.metadata.find("sub"); sub != r.metadata.end()) p.name += ":" + sub->second;
                if (auto t = r.metadata.find("tenant_id"); t != r.metadata.end()) p.tenants.push_back(t->second);
                return p;
            }
        }
    }
    // Open (no key of any kind configured): anyone publishes, as one publisher.
    if (opts_.publisher_key.empty() && opts_.scoped_keys.empty() && !opts_.publisher_jwt)
        return publisher{"anonymous", false, {}, {}};
    return std::nullopt;
}

std::optional<daemon::response> daemon::rate_limited(const publisher& who, const std::string& remote) {
    const auto d = publish_rates_.take(who.name);
    if (d.granted) return std::nullopt;
    counters_.publish_rate_limited.fetch_add(1);
    const long retry = ssehub::token_bucket::retry_after_seconds(d.wait);
    log_.debug("publish_rate_limited", {{"publisher", who.name}, {"remote", remote}, {"retry_after_s", retry}});
    response r = error_response(429, "publish rate of '" + who.name + "' exceeded (--publish-rate " +
                                         json(opts_.publish_rate).dump() + "/s), retry after " + std::to_string(retry) +
                                         " s");
    r.headers.push_back({"Retry-After", std::to_string(retry)});
    return r;
}

bool daemon::is_mercure(const http::request& req) const {
    return mercure_ && req.path() == "/.well-known/mercure";
}

bool daemon::is_admin(const http::request& req) const {
    std::string_view given = presented_key(req);
    std::string basic;  // the /admin page's browser login
    if (given.empty()) {
        basic = basic_password(req);
        given = basic;
    }
    if (given.empty()) return false;
    if (!opts_.admin_key.empty()) return same_secret(given, opts_.admin_key);
    return !opts_.publisher_key.empty() && same_secret(given, opts_.publisher_key);
}

}  // namespace ssehubd
