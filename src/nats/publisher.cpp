// nats_publisher and nats_fan_out_config.
#include "ssehub/nats/publisher.hpp"

#include "link.hpp"

#include "ssehub/error.hpp"
#include "ssehub/event_codec.hpp"
#include "ssehub/topic.hpp"
#include "ssehub/wire.hpp"

#include <asio/async_result.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdio>
#include <random>
#include <unordered_map>

namespace ssehub::nats {

namespace detail {

// A JetStream publish's outcome: the stream sequence, or why not.
struct js_ack {
    std::error_code ec;
    std::uint64_t seq = 0;
};

// One publish waiting for its ack (type-erased completion handler).
struct ack_waiter {
    virtual ~ack_waiter() = default;
    virtual void done(js_ack a) = 0;  // once
};

template <class Handler>
struct ack_waiter_for final : ack_waiter {
    explicit ack_waiter_for(Handler&& h)
        : handler(std::move(h)), work(asio::make_work_guard(asio::get_associated_executor(handler))) {}
    void done(js_ack a) override {
        post_back(std::move(work), [h = std::move(handler), a]() mutable { std::move(h)(a); });
    }
    Handler handler;
    asio::executor_work_guard<asio::associated_executor_t<Handler>> work;
};

// The publisher's JetStream state: the publishes waiting for their acks (by
// message: the C client hands the same pointer back), and whether the stream
// is known to exist. Thread safety: safe from any thread.
struct js_state {
    std::mutex mu;
    std::unordered_map<natsMsg*, std::unique_ptr<ack_waiter>> waiting;  // mu
    std::atomic<bool> stream_ready{false};
    std::atomic<bool> checking{false};
    std::atomic<std::int64_t> last_check_ms{0};
    // After a failed check while connected: the next one, reconnect_max
    // later. Only on blocking_pool() (one thread); cancelled at close.
    std::unique_ptr<asio::steady_timer> retry;

    std::unique_ptr<ack_waiter> take(natsMsg* m) {
        std::lock_guard lock(mu);
        auto it = waiting.find(m);
        if (it == waiting.end()) return nullptr;
        auto w = std::move(it->second);
        waiting.erase(it);
        return w;
    }
    void fail_all(std::error_code ec) {
        std::unordered_map<natsMsg*, std::unique_ptr<ack_waiter>> all;
        {
            std::lock_guard lock(mu);
            all.swap(waiting);
        }
        for (auto& [m, w] : all) w->done(js_ack{ec, 0});
    }
};

namespace {

// Looks the stream up (creates it when missing) on the blocking thread; one
// at a time. A failure while connected (JetStream still starting after a
// server restart) is retried reconnect_max later: no busy loop, no wait for
// the next publish.
void check_stream(const std::shared_ptr<link>& l, const std::shared_ptr<js_state>& js) {
    if (js->checking.exchange(true)) return;
    js->last_check_ms.store(unix_ms());
    asio::post(blocking_pool(), [w = std::weak_ptr<link>(l), js] {
        bool again = false;
        if (auto lk = w.lock()) {
            try {
                ensure_stream(lk);
                js->stream_ready.store(true);
            } catch (const std::exception& e) {
                js->stream_ready.store(false);
                lk->opts.log.log(logger::level::error, e.what());
                again = lk->counters->connected.load();
            }
            if (again) {
                if (!js->retry) js->retry = std::make_unique<asio::steady_timer>(blocking_pool());
                js->retry->expires_after(lk->opts.reconnect_max);
                js->retry->async_wait([w, js](std::error_code ec) {
                    if (ec) return;  // cancelled: closed
                    if (auto l2 = w.lock(); l2 && !js->stream_ready.load()) check_stream(l2, js);
                });
            }
        }
        js->checking.store(false);
    });
}

}  // namespace
}  // namespace detail

nats_publisher::nats_publisher(nats_options o, nats_publisher_config cfg)
    : link_(std::make_shared<detail::link>()), cfg_(cfg), next_(std::make_shared<std::atomic<std::uint64_t>>(0)) {
    link_->opts = std::move(o);
    link_->counters = std::make_shared<nats_counters>();
    if (link_->opts.jetstream.enabled) {
        js_ = std::make_shared<detail::js_state>();
        std::weak_ptr<detail::js_state> wjs = js_;
        std::weak_ptr<detail::link> wl = link_;
        // On C client threads.
        link_->on_ack = [wjs, c = link_->counters](natsMsg* m, jsPubAck* pa, jsPubAckErr* pae) {
            auto js = wjs.lock();
            if (!js) return;
            auto w = js->take(m);
            if (!w) return;
            if (pa && !pae) return w->done(detail::js_ack{{}, pa->Sequence});
            c->publish_errors.fetch_add(1, std::memory_order_relaxed);
            const natsStatus err = pae ? pae->Err : NATS_ERR;
            if (err == NATS_NO_RESPONDERS) js->stream_ready.store(false);  // the stream is gone: look again
            w->done(detail::js_ack{std::make_error_code(err == NATS_TIMEOUT ? std::errc::timed_out : std::errc::io_error), 0});
        };
        link_->on_event = [wjs, wl](detail::link_event e) {
            auto js = wjs.lock();
            auto l = wl.lock();
            if (!js || !l) return;
            if (e == detail::link_event::connected || e == detail::link_event::reconnected) {
                js->stream_ready.store(false);
                detail::check_stream(l, js);
            } else {
                js->stream_ready.store(false);
            }
        };
    }
    std::random_device rd;
    const std::uint64_t r = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(r));
    id_prefix_ = std::string(buf) + "-";
    detail::connect_in_background(link_);  // a failure: publishes fail
}

nats_publisher::~nats_publisher() {
    if (!link_) return;  // moved from
    detail::close_in_background(link_, [js = js_] {
        if (!js) return;
        if (js->retry) js->retry->cancel();
        js->fail_all(std::make_error_code(std::errc::operation_canceled));  // their acks will not come
    });
}

const nats_counters& nats_publisher::counters() const noexcept { return *link_->counters; }

bool nats_publisher::ready() const noexcept {
    return link_->counters->connected.load() && (!js_ || js_->stream_ready.load());
}

std::error_code nats_publisher::validate(const event& ev) const {
    if (ev.topics.empty() && ev.group.empty()) return error::no_target;
    for (const auto& t : ev.topics)
        if (!topic::is_valid_subject(t, cfg_.max_topic_length)) return error::invalid_topic;
    if (!ev.id.empty()) return error::invalid_event_field;  // ids are made here
    return wire::validate_type(ev.type);
}

nats_publish_result nats_publisher::publish(event ev) {
    nats_publish_result out;
    out.ec = validate(ev);
    if (!out.ec && js_) out.ec = std::make_error_code(std::errc::operation_not_supported);
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

asio::awaitable<nats_publish_result> nats_publisher::async_publish(event ev) {
    if (!js_) co_return publish(std::move(ev));
    nats_publish_result out;
    out.ec = validate(ev);
    if (out.ec) co_return out;
    const auto& o = link_->opts;
    std::string subject = ev.topics.size() == 1 ? subject_of(o, ev.topics[0])
                          : ev.topics.empty()   ? group_subject(o)
                                                : multi_subject(o);
    std::string payload = encode_event(ev, unix_ms());
    auto start = [l = link_, js = js_](auto handler, std::string subj, std::string data) {
        std::unique_ptr<detail::ack_waiter> w =
            std::make_unique<detail::ack_waiter_for<decltype(handler)>>(std::move(handler));
        auto& c = *l->counters;
        auto refuse = [&](std::errc e) {
            c.publish_errors.fetch_add(1, std::memory_order_relaxed);
            w->done(detail::js_ack{std::make_error_code(e), 0});
        };
        std::lock_guard lock(l->mu);  // nc and js stay alive while we publish
        if (!l->js || !c.connected.load() || natsConnection_Status(l->nc) != NATS_CONN_STATUS_CONNECTED)
            return refuse(std::errc::connection_refused);
        if (!js->stream_ready.load()) {
            // Looked up again at most once per reconnect_max (no busy loop while it is missing).
            if (unix_ms() - js->last_check_ms.load() >= l->opts.reconnect_max.count()) detail::check_stream(l, js);
            return refuse(std::errc::connection_refused);
        }
        natsMsg* m = nullptr;
        if (natsMsg_Create(&m, subj.c_str(), nullptr, data.data(), static_cast<int>(data.size())) != NATS_OK)
            return refuse(std::errc::not_enough_memory);
        natsMsg* const key = m;
        {
            std::lock_guard wl(js->mu);
            if (js->waiting.size() >= l->opts.jetstream.max_inflight) {
                natsMsg_Destroy(m);
                return refuse(std::errc::resource_unavailable_try_again);
            }
            js->waiting.emplace(key, std::move(w));
        }
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = l->opts.jetstream.publish_timeout.count();
        // Buffered by the C client (its flusher thread writes it); the ack comes on its thread.
        if (js_PublishMsgAsync(l->js, &m, &po) != NATS_OK) {
            natsMsg_Destroy(m);  // still ours: no ack will come
            if (auto back = js->take(key)) {
                c.publish_errors.fetch_add(1, std::memory_order_relaxed);
                back->done(detail::js_ack{std::make_error_code(std::errc::io_error), 0});
            }
            return;
        }
        c.published.fetch_add(1, std::memory_order_relaxed);
    };
    const detail::js_ack ack = co_await asio::async_initiate<decltype(asio::use_awaitable), void(detail::js_ack)>(
        std::move(start), asio::use_awaitable, std::move(subject), std::move(payload));
    out.ec = ack.ec;
    if (!ack.ec) {
        out.id = std::to_string(ack.seq);
        out.messages = 1;
    }
    co_return out;
}

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
