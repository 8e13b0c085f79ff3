// nats_publisher and nats_fan_out_config.
#include "ssehub/nats/publisher.hpp"

#include "link.hpp"

#include "ssehub/error.hpp"
#include "ssehub/event_codec.hpp"
#include "ssehub/topic.hpp"
#include "ssehub/wire.hpp"

#include <cstdio>
#include <random>

namespace ssehub::nats {

nats_publisher::nats_publisher(nats_options o, nats_publisher_config cfg)
    : link_(std::make_shared<detail::link>()), cfg_(cfg), next_(std::make_shared<std::atomic<std::uint64_t>>(0)) {
    link_->opts = std::move(o);
    link_->counters = std::make_shared<nats_counters>();
    std::random_device rd;
    const std::uint64_t r = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(r));
    id_prefix_ = std::string(buf) + "-";
    asio::post(detail::blocking_pool(), [l = link_] {
        try {
            detail::connect(l);
        } catch (const std::exception& e) {
            l->opts.log.log(logger::level::error, e.what());  // counted in connect_failures; publishes fail
        }
    });
}

nats_publisher::~nats_publisher() {
    if (!link_) return;  // moved from
    {
        std::lock_guard lock(link_->mu);
        link_->closing = true;
    }
    asio::post(detail::blocking_pool(), [l = link_] { detail::close(l); });
}

const nats_counters& nats_publisher::counters() const noexcept { return *link_->counters; }

nats_publish_result nats_publisher::publish(event ev) {
    nats_publish_result out;
    if (ev.topics.empty() && ev.group.empty()) out.ec = error::no_target;
    for (const auto& t : ev.topics)
        if (!out.ec && !topic::is_valid_subject(t, cfg_.max_topic_length)) out.ec = error::invalid_topic;
    if (!out.ec && !ev.id.empty()) out.ec = error::invalid_event_field;  // ids are made here
    if (!out.ec) out.ec = wire::validate_type(ev.type);
    if (out.ec) return out;
    auto& c = *link_->counters;
    std::lock_guard lock(link_->mu);  // the connection stays open while we publish
    if (!link_->nc || !c.connected.load() || natsConnection_Status(link_->nc) != NATS_CONN_STATUS_CONNECTED) {
        c.publish_errors.fetch_add(1, std::memory_order_relaxed);
        out.ec = std::make_error_code(std::errc::connection_refused);
        return out;
    }
    out.id = id_prefix_ + std::to_string(next_->fetch_add(1) + 1);
    const std::string payload = out.id + "\n" + encode_event(ev, unix_ms());
    std::vector<std::string> subjects;
    for (const auto& t : ev.topics) subjects.push_back(subject_of(link_->opts, t));
    if (subjects.empty()) subjects.push_back(group_subject(link_->opts));
    for (const auto& s : subjects) {
        // Buffered by the C client, written by its flusher thread: no wait here.
        const natsStatus st = natsConnection_Publish(link_->nc, s.c_str(), payload.data(), static_cast<int>(payload.size()));
        if (st != NATS_OK) {
            c.publish_errors.fetch_add(1, std::memory_order_relaxed);
            out.ec = std::make_error_code(std::errc::io_error);
            return out;
        }
        ++out.messages;
        c.published.fetch_add(1, std::memory_order_relaxed);
    }
    return out;
}

asio::awaitable<nats_publish_result> nats_publisher::async_publish(event ev) { co_return publish(std::move(ev)); }

fan_out_config nats_fan_out_config() {
    fan_out_config cfg;
    cfg.transform = [](const pubsub_message& m, event) -> std::optional<event> {
        const auto nl = m.payload.find('\n');
        if (nl == 0 || nl == std::string::npos) return std::nullopt;
        const std::string_view id(m.payload.data(), nl);
        if (wire::validate_id(id)) return std::nullopt;
        auto d = decode_event(std::string_view(m.payload).substr(nl + 1), unix_ms());
        if (!d || d->expired) return std::nullopt;  // malformed, or its TTL passed on the way
        d->ev.id = std::string(id);
        return std::move(d->ev);
    };
    return cfg;
}

}  // namespace ssehub::nats
