#include "redis_bridge.hpp"

#include "metrics.hpp"

#include <unistd.h>

#include <string>

#ifdef SSEHUBD_HAS_REDIS
#include <ssehub/fan_out.hpp>
#include <ssehub/redis/redis.hpp>

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#endif

namespace ssehubd {
namespace {

std::string default_node_id() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = 0;
    return std::string(host[0] ? host : "node") + "-" + std::to_string(::getpid());
}

#ifdef SSEHUBD_HAS_REDIS

class redis_bridge_impl final : public redis_bridge {
public:
    redis_bridge_impl(asio::any_io_executor ex, const options& o, ssehub::redis::redis_options ro, logger& log)
        : ex_(ex), opts_(o), ro_(std::move(ro)), log_(log) {
        node_ = o.node_id.empty() ? default_node_id() : o.node_id;
        // On a cluster, the Stream, the caller-id keys and presence live in
        // the sequencer slot {PREFIX} (the publish script's keys share a slot).
        const bool cluster = !ro_.cluster.empty();
        key_prefix_ = cluster ? "{" + o.redis_prefix + "}" : o.redis_prefix;
        ssehub::redis::redis_publisher_config pc;
        pc.channel = o.redis_prefix + ":events";
        if (cluster) pc.sharded_prefix = o.redis_prefix;
        pc.stream = o.replay_size > 0 ? key_prefix_ + ":stream" : "";
        pc.stream_max_len = o.replay_size;
        pc.max_topic_length = o.max_topic_length;
        // A caller's id resumes a replay for as long as its events may be replayed.
        pc.id_key_prefix = key_prefix_ + ":id:";
        pc.id_ttl = o.replay_max_age.count() > 0 ? o.replay_max_age : std::chrono::hours(24);
        pc.wait_replicas = o.redis_wait_replicas;
        pc.wait_timeout = o.redis_wait_timeout;
        publisher_ = std::make_shared<ssehub::redis::redis_publisher>(ex, ro_, pc);
        ssehub::redis::redis_presence_config prc;
        prc.prefix = key_prefix_;
        prc.node = node_;
        prc.refresh = o.presence_refresh;
        prc.ttl = o.presence_ttl;
        prc.reply_timeout = o.admin_reply_timeout;
        prc.max_topic_length = o.max_topic_length;
        prc.max_presence_page = o.max_presence_page;
        presence_ = std::make_unique<ssehub::redis::redis_presence>(ex, ro_, std::move(prc));
        if (o.auth == auth_mode::tickets) {
            auto t = std::make_shared<ssehub::redis::redis_ticket_store>(ex, ro_, o.redis_prefix + ":ticket:");
            tickets_store_ = t;
            tickets_ = ssehub::any_ticket_store(t);
        }
    }

    void configure(ssehub::hub_config& cfg) override {
        if (opts_.replay_size > 0) {
            ssehub::redis::streams_replayer_config rc;
            rc.stream = key_prefix_ + ":stream";
            rc.max_age = opts_.replay_max_age;
            rc.id_key_prefix = key_prefix_ + ":id:";
            if (opts_.mercure) rc.earliest_id = "earliest";  // Mercure's "everything you have"
            rc.transform = transform_;
            auto r = std::make_shared<ssehub::redis::redis_streams_replayer>(ex_, ro_, rc);
            replayer_ = r;
            cfg.replayer = ssehub::any_replayer(r);
        }
    }

    ssehub::any_ticket_store tickets() override { return tickets_; }

    void start(ssehub::hub& hub) override {
        auto cfg = ssehub::redis::redis_fan_out_config();
        cfg.backoff_initial = std::chrono::milliseconds(100);
        cfg.backoff_max = std::chrono::milliseconds(2000);
        if (transform_) {
            cfg.transform = [decode = std::move(cfg.transform), t = transform_](const ssehub::pubsub_message& m,
                                                                               ssehub::event ev) -> std::optional<ssehub::event> {
                auto out = decode(m, std::move(ev));
                if (out) t(*out);
                return out;
            };
        }
        if (ro_.cluster.empty()) {
            ssehub::redis::redis_subscriber sub(ro_, {opts_.redis_prefix + ":events"});
            subscriber_ = std::make_shared<ssehub::redis::redis_subscriber>(sub);
            bridge_ = ssehub::fan_out(hub, std::move(sub), std::move(cfg));
            log_.info("redis", {{"node", node_}, {"host", ro_.host}, {"port", ro_.port}, {"channel", opts_.redis_prefix + ":events"}});
        } else {
            ssehub::redis::cluster_subscriber_config sc;
            sc.prefix = opts_.redis_prefix;
            ssehub::redis::redis_cluster_subscriber sub(ro_, hub, sc);
            cluster_subscriber_ = std::make_shared<ssehub::redis::redis_cluster_subscriber>(sub);
            bridge_ = ssehub::fan_out(hub, std::move(sub), std::move(cfg));
            log_.info("redis_cluster", {{"node", node_}, {"seeds", opts_.redis_cluster}, {"prefix", opts_.redis_prefix}});
        }
        presence_->start(hub);
        asio::co_spawn(ex_, watch(), [this](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                log_.error("redis_watch", {{"node", node_}, {"error", x.what()}});
            }
        });
    }

    // Logs when the subscription comes up or goes down (checked twice a second).
    asio::awaitable<void> watch() {
        asio::steady_timer timer(ex_);
        bool was_up = false;
        for (;;) {
            const bool now_up = up();
            if (now_up != was_up) {
                if (now_up) log_.info("redis_up", {{"node", node_}, {"reconnects", bridge_.counters().reconnects.load()}});
                else log_.warn("redis_down", {{"node", node_}});
                was_up = now_up;
            }
            timer.expires_after(std::chrono::milliseconds(500));
            co_await timer.async_wait(asio::use_awaitable);
        }
    }

    asio::awaitable<redis_publish_outcome> publish(ssehub::event ev) override {
        auto p = publisher_;
        const auto r = co_await p->async_publish(std::move(ev));
        co_return redis_publish_outcome{r.ec, r.id, r.nodes, r.replicas};
    }

    bool up() const override { return bridge_.counters().connected.load() > 0; }

    bool cluster() const override { return true; }
    void joined(const ssehub::connection& c) override { presence_->joined(c); }
    void left(const ssehub::connection& c) override { presence_->left(c); }
    asio::awaitable<ssehub::redis::cluster_presence_page> presence(ssehub::presence_query q) override {
        co_return co_await presence_->async_presence(std::move(q));
    }
    asio::awaitable<ssehub::redis::cluster_nodes> nodes() override { co_return co_await presence_->async_nodes(); }
    asio::awaitable<ssehub::redis::cluster_disconnect_result> disconnect(std::string id, std::string reason) override {
        co_return co_await presence_->async_disconnect(std::move(id), std::move(reason));
    }
    asio::awaitable<ssehub::redis::cluster_disconnect_result> disconnect(ssehub::presence_filter f,
                                                                       std::string reason) override {
        co_return co_await presence_->async_disconnect(std::move(f), std::move(reason));
    }

    std::string prometheus() const override {
        const auto& f = bridge_.counters();
        std::string out;
        auto family = [&](const char* name, const char* type, const char* help) {
            out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
        };
        auto sample = [&](const std::string& name_labels, std::uint64_t v) {
            out += name_labels + " " + std::to_string(v) + "\n";
        };
        const std::string node = "node=\"" + escape_label(node_) + "\"";
        family("ssehubd_node_info", "gauge", "this node's --node-id");
        sample("ssehubd_node_info{" + node + "}", 1);
        family("ssehubd_redis_up", "gauge", "1 while the Redis subscriber is subscribed");
        sample("ssehubd_redis_up{" + node + "}", up() ? 1 : 0);
        family("ssehubd_fanout_messages_total", "counter", "messages from Redis by outcome");
        sample("ssehubd_fanout_messages_total{" + node + ",result=\"received\"}", f.received.load());
        sample("ssehubd_fanout_messages_total{" + node + ",result=\"published\"}", f.published.load());
        sample("ssehubd_fanout_messages_total{" + node + ",result=\"dropped\"}", f.dropped.load());
        sample("ssehubd_fanout_messages_total{" + node + ",result=\"expired\"}", f.expired.load());
        if (cluster_subscriber_) {
            const auto& c = cluster_subscriber_->counters();
            family("ssehubd_redis_cluster_messages_total", "counter",
                   "sharded pub/sub messages read from the cluster (received, copies included; duplicate: dropped by id)");
            sample("ssehubd_redis_cluster_messages_total{" + node + ",result=\"received\"}", c.messages.load());
            sample("ssehubd_redis_cluster_messages_total{" + node + ",result=\"duplicate\"}", c.duplicates.load());
            family("ssehubd_redis_cluster_bytes_total", "counter", "payload bytes of the messages read from the cluster");
            sample("ssehubd_redis_cluster_bytes_total{" + node + "}", c.bytes.load());
            family("ssehubd_redis_cluster_channels", "gauge", "sharded channels subscribed now");
            sample("ssehubd_redis_cluster_channels{" + node + "}", c.channels.load());
            family("ssehubd_redis_cluster_shards", "gauge", "shard connections of the subscriber now");
            sample("ssehubd_redis_cluster_shards{" + node + "}", c.shards.load());
            family("ssehubd_redis_cluster_slot_moves_total", "counter", "MOVED replies and slots that moved away under a subscription");
            sample("ssehubd_redis_cluster_slot_moves_total{" + node + "}", c.slot_moves.load());
        }
        family("ssehubd_fanout_errors_total", "counter", "subscriber runs that failed and publishes the hub refused");
        sample("ssehubd_fanout_errors_total{" + node + "}", f.errors.load());
        family("ssehubd_fanout_reconnects_total", "counter", "subscriber reconnect attempts (after backoff)");
        sample("ssehubd_fanout_reconnects_total{" + node + "}", f.reconnects.load());
        family("ssehubd_redis_connect_attempts_total", "counter", "connects to Redis by connection");
        family("ssehubd_redis_connect_failures_total", "counter", "failed connects to Redis by connection");
        family("ssehubd_redis_command_errors_total", "counter", "Redis commands that failed by connection");
        std::string attempts, failures, errors;
        auto conn = [&](const char* which, const ssehub::redis::connection_counters& c) {
            const std::string l = "{" + node + ",conn=\"" + which + "\"} ";
            attempts += "ssehubd_redis_connect_attempts_total" + l + std::to_string(c.connect_attempts.load()) + "\n";
            failures += "ssehubd_redis_connect_failures_total" + l + std::to_string(c.connect_failures.load()) + "\n";
            errors += "ssehubd_redis_command_errors_total" + l + std::to_string(c.command_errors.load()) + "\n";
        };
        if (subscriber_) conn("subscriber", subscriber_->counters());
        if (cluster_subscriber_) conn("subscriber", cluster_subscriber_->counters().conn);
        conn("publisher", publisher_->counters());
        if (replayer_) conn("replay", replayer_->counters());
        if (tickets_store_) conn("tickets", tickets_store_->counters());
        conn("presence", presence_->counters());
        // Keep each family's samples right after its header.
        const auto insert_after = [&](const std::string& header_of, const std::string& samples) {
            const std::string marker = "# TYPE " + header_of + " counter\n";
            const auto at = out.find(marker);
            out.insert(at + marker.size(), samples);
        };
        insert_after("ssehubd_redis_command_errors_total", errors);
        insert_after("ssehubd_redis_connect_failures_total", failures);
        insert_after("ssehubd_redis_connect_attempts_total", attempts);
        return out;
    }

private:
    asio::any_io_executor ex_;
    const options& opts_;
    ssehub::redis::redis_options ro_;
    logger& log_;
    std::shared_ptr<ssehub::redis::redis_publisher> publisher_;
    std::string key_prefix_;  // PREFIX, or {PREFIX} on a cluster
    std::shared_ptr<ssehub::redis::redis_subscriber> subscriber_;  // its counters (shared with the running copy)
    std::shared_ptr<ssehub::redis::redis_cluster_subscriber> cluster_subscriber_;
    std::shared_ptr<ssehub::redis::redis_streams_replayer> replayer_;
    std::shared_ptr<ssehub::redis::redis_ticket_store> tickets_store_;
    std::unique_ptr<ssehub::redis::redis_presence> presence_;
    ssehub::any_ticket_store tickets_;
    ssehub::fan_out_handle bridge_;
};

#endif

}  // namespace

// Never called: only engines whose cluster() is true are asked.
asio::awaitable<ssehub::redis::cluster_presence_page> redis_bridge::presence(ssehub::presence_query) {
    co_return ssehub::redis::cluster_presence_page{std::make_error_code(std::errc::not_supported), 0, {}, {}, {}, 0};
}
asio::awaitable<ssehub::redis::cluster_nodes> redis_bridge::nodes() {
    co_return ssehub::redis::cluster_nodes{std::make_error_code(std::errc::not_supported), {}};
}
asio::awaitable<ssehub::redis::cluster_disconnect_result> redis_bridge::disconnect(std::string, std::string) {
    co_return ssehub::redis::cluster_disconnect_result{std::make_error_code(std::errc::not_supported), 0, 0, 0};
}
asio::awaitable<ssehub::redis::cluster_disconnect_result> redis_bridge::disconnect(ssehub::presence_filter,
                                                                                   std::string) {
    co_return ssehub::redis::cluster_disconnect_result{std::make_error_code(std::errc::not_supported), 0, 0, 0};
}

std::unique_ptr<redis_bridge> redis_bridge::create(asio::any_io_executor ex, const options& o, logger& log,
                                                   std::string* error) {
#ifdef SSEHUBD_HAS_REDIS
    auto ro = o.redis_cluster.empty() ? ssehub::redis::parse_redis_url(o.redis_url, error)
                                      : ssehub::redis::parse_redis_cluster(o.redis_cluster, error);
    if (!ro) return nullptr;
    // The Redis client's errors go into the JSON log too.
    ro->log = ssehub::logger(ssehub::logger::level::error, [&log](ssehub::logger::level, std::string_view msg) {
        log.error("ssehub", {{"detail", msg}});
    });
    return std::make_unique<redis_bridge_impl>(std::move(ex), o, std::move(*ro), log);
#else
    (void)ex;
    (void)o;
    (void)log;
    (void)default_node_id;
    if (error) *error = "this ssehubd was built without Redis support (ssehub::redis needs hiredis)";
    return nullptr;
#endif
}

}  // namespace ssehubd
