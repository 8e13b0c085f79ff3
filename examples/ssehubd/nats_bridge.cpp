#include "nats_bridge.hpp"

#include "metrics.hpp"

#include <unistd.h>

#ifdef SSEHUBD_HAS_NATS
#include <ssehub/fan_out.hpp>
#include <ssehub/ticket_store.hpp>
#include <ssehub/nats/nats.hpp>
#endif

namespace ssehubd {
namespace {

#ifdef SSEHUBD_HAS_NATS

class nats_bridge_impl final : public redis_bridge {
public:
    nats_bridge_impl(const options& o, ssehub::nats::nats_options no, logger& log)
        : opts_(o), no_(std::move(no)), log_(log) {
        if (o.node_id.empty()) {
            char host[256] = {};
            if (::gethostname(host, sizeof host - 1) != 0) host[0] = 0;
            node_ = std::string(host[0] ? host : "node") + "-" + std::to_string(::getpid());
        } else {
            node_ = o.node_id;
        }
        no_.name = "ssehubd " + node_;
        ssehub::nats::nats_publisher_config pc;
        pc.max_topic_length = o.max_topic_length;
        publisher_ = std::make_shared<ssehub::nats::nats_publisher>(no_, pc);
    }

    void configure(ssehub::hub_config& cfg) override {
        // Without JetStream replay stays node-local (the memory replayer).
        if (!no_.jetstream.enabled || opts_.replay_size == 0) return;
        ssehub::nats::jetstream_replayer_config rc;
        rc.transform = transform_;
        replayer_ = std::make_shared<ssehub::nats::nats_jetstream_replayer>(no_, rc);
        cfg.replayer = ssehub::any_replayer(replayer_);
    }

    ssehub::any_ticket_store tickets() override {
        ssehub::memory_ticket_store_config tc;
        tc.max_tickets = opts_.max_tickets;
        return ssehub::any_ticket_store(std::in_place_type<ssehub::memory_ticket_store>, tc);
    }

    void start(ssehub::hub& hub) override {
        ssehub::nats::nats_subscriber sub(no_, hub);
        subscriber_ = std::make_shared<ssehub::nats::nats_subscriber>(sub);
        if (replayer_) replayer_->follow(sub);  // replays wait for this node's live subscriptions
        auto cfg = ssehub::nats::nats_fan_out_config();
        cfg.backoff_initial = std::chrono::milliseconds(100);
        cfg.backoff_max = std::chrono::milliseconds(2000);
        bridge_ = ssehub::fan_out(hub, std::move(sub), std::move(cfg));
        log_.info("nats", {{"node", node_},
                           {"url", no_.url},
                           {"prefix", no_.prefix},
                           {"jetstream", no_.jetstream.enabled ? no_.jetstream.stream : std::string("off")}});
    }

    asio::awaitable<redis_publish_outcome> publish(ssehub::event ev) override {
        // Core NATS: never waits. JetStream: waits for the server's ack (its sequence is the id), on no thread.
        const auto r = co_await publisher_->async_publish(std::move(ev));
        co_return redis_publish_outcome{r.ec, r.id, r.messages};
    }

    bool up() const override { return subscriber_ && subscriber_->counters().connected.load(); }

    std::string prometheus() const override {
        std::string out;
        auto family = [&](const char* name, const char* type, const char* help) {
            out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
        };
        const std::string node = "node=\"" + escape_label(node_) + "\"";
        auto sample = [&](const std::string& name, const std::string& labels, std::uint64_t v) {
            out += name + "{" + node + labels + "} " + std::to_string(v) + "\n";
        };
        const auto& f = bridge_.counters();
        const auto& p = publisher_->counters();
        family("ssehubd_node_info", "gauge", "this node's --node-id");
        sample("ssehubd_node_info", "", 1);
        family("ssehubd_nats_up", "gauge", "1 while the NATS subscriber connection is up");
        sample("ssehubd_nats_up", "", up() ? 1 : 0);
        family("ssehubd_fanout_messages_total", "counter", "messages from NATS by outcome (after dropping copies)");
        sample("ssehubd_fanout_messages_total", ",result=\"received\"", f.received.load());
        sample("ssehubd_fanout_messages_total", ",result=\"published\"", f.published.load());
        sample("ssehubd_fanout_messages_total", ",result=\"dropped\"", f.dropped.load());
        sample("ssehubd_fanout_messages_total", ",result=\"expired\"", f.expired.load());
        family("ssehubd_fanout_errors_total", "counter", "subscriber runs that failed and publishes the hub refused");
        sample("ssehubd_fanout_errors_total", "", f.errors.load());
        if (subscriber_) {
            const auto& s = subscriber_->counters();
            family("ssehubd_nats_subscriptions", "gauge", "NATS subscriptions of this node the server confirmed");
            sample("ssehubd_nats_subscriptions", "", s.subscriptions.load());
            family("ssehubd_nats_messages_total", "counter",
                   "messages the subscriber got from NATS (every copy), and what it dropped");
            sample("ssehubd_nats_messages_total", ",result=\"received\"", s.messages.load());
            sample("ssehubd_nats_messages_total", ",result=\"duplicate\"", s.duplicates.load());
            sample("ssehubd_nats_messages_total", ",result=\"overflow\"", s.overflow.load());
            sample("ssehubd_nats_messages_total", ",result=\"slow_consumer\"", s.slow_consumer.load());
        }
        family("ssehubd_nats_disconnects_total", "counter", "NATS connections lost, by connection");
        family("ssehubd_nats_reconnects_total", "counter", "NATS reconnects, by connection");
        for (auto [which, c] : {std::pair<const char*, const ssehub::nats::nats_counters*>{"publisher", &p},
                                {"subscriber", subscriber_ ? &subscriber_->counters() : nullptr}}) {
            if (!c) continue;
            const std::string l = std::string(",conn=\"") + which + "\"";
            out.insert(out.find("# TYPE ssehubd_nats_disconnects_total counter\n") +
                           std::string_view("# TYPE ssehubd_nats_disconnects_total counter\n").size(),
                       "ssehubd_nats_disconnects_total{" + node + l + "} " + std::to_string(c->disconnects.load()) + "\n");
            sample("ssehubd_nats_reconnects_total", l, c->reconnects.load());
        }
        family("ssehubd_nats_published_total", "counter", "messages handed to NATS, and publishes refused (503)");
        sample("ssehubd_nats_published_total", ",result=\"sent\"", p.published.load());
        sample("ssehubd_nats_published_total", ",result=\"refused\"", p.publish_errors.load());
        family("ssehubd_nats_reconnect_rounds_total", "counter",
               "reconnect rounds of the C client while NATS is down (each after a backoff), by connection");
        sample("ssehubd_nats_reconnect_rounds_total", ",conn=\"publisher\"", p.reconnect_rounds.load());
        if (subscriber_)
            sample("ssehubd_nats_reconnect_rounds_total", ",conn=\"subscriber\"", subscriber_->counters().reconnect_rounds.load());
        if (no_.jetstream.enabled) {
            family("ssehubd_nats_stream_ready", "gauge", "1 while the publisher is connected and knows the JetStream stream (publishes are tried)");
            sample("ssehubd_nats_stream_ready", "", publisher_->ready() ? 1 : 0);
            family("ssehubd_nats_stream_checks_total", "counter", "JetStream stream lookups (created when missing), one per connect");
            sample("ssehubd_nats_stream_checks_total", "", p.stream_checks.load());
        }
        if (replayer_) {
            const auto& r = replayer_->counters();
            family("ssehubd_nats_replays_total", "counter", "Last-Event-ID replays read from the JetStream stream, and those that failed (resync)");
            sample("ssehubd_nats_replays_total", ",result=\"read\"", r.replays.load());
            sample("ssehubd_nats_replays_total", ",result=\"failed\"", r.replay_errors.load());
        }
        return out;
    }

private:
    const options& opts_;
    ssehub::nats::nats_options no_;
    logger& log_;
    std::shared_ptr<ssehub::nats::nats_publisher> publisher_;
    std::shared_ptr<ssehub::nats::nats_subscriber> subscriber_;  // its counters (shared with the running copy)
    std::shared_ptr<ssehub::nats::nats_jetstream_replayer> replayer_;  // --nats-jetstream with --replay-size > 0
    ssehub::fan_out_handle bridge_;
};

#endif

}  // namespace

std::unique_ptr<redis_bridge> make_nats_bridge(asio::any_io_executor ex, const options& o, logger& log,
                                               std::string* error) {
    (void)ex;
#ifdef SSEHUBD_HAS_NATS
    (void)error;
    ssehub::nats::nats_options no;
    no.url = o.nats_url;
    no.prefix = o.nats_prefix;
    if (o.nats_jetstream) {
        no.jetstream.enabled = true;
        no.jetstream.stream = o.nats_stream.empty() ? o.nats_prefix : o.nats_stream;
        no.jetstream.max_msgs = static_cast<std::int64_t>(o.replay_size);  // 0: no count limit
        no.jetstream.max_age = o.replay_max_age;
    }
    no.reconnect_initial = std::chrono::milliseconds(100);
    no.reconnect_max = std::chrono::milliseconds(2000);
    no.log = ssehub::logger(ssehub::logger::level::error, [&log](ssehub::logger::level, std::string_view msg) {
        log.error("ssehub", {{"detail", msg}});
    });
    return std::make_unique<nats_bridge_impl>(o, std::move(no), log);
#else
    (void)o;
    (void)log;
    if (error) *error = "this ssehubd was built without NATS support (ssehub::nats needs libnats-dev)";
    return nullptr;
#endif
}

}  // namespace ssehubd
