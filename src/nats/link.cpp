#include "link.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <system_error>

namespace ssehub::nats {

std::string subject_of(const nats_options& o, std::string_view topic) {
    if (o.prefix.empty()) return std::string(topic);
    std::string s = o.prefix;
    s += '.';
    s += topic;
    return s;
}

std::string group_subject(const nats_options& o) {
    return o.prefix.empty() ? std::string("_ssehub_groups") : o.prefix + "_groups";
}

namespace detail {

asio::thread_pool& blocking_pool() {
    static asio::thread_pool pool(1);
    return pool;
}

namespace {

link* self(void* closure) { return static_cast<link*>(closure); }

void notify(void* closure, link_event e) {
    auto* l = self(closure);
    if (l->on_event) l->on_event(e);
}

void on_connected(natsConnection*, void* c) {
    self(c)->counters->connected.store(true);
    notify(c, link_event::connected);
}

void on_disconnected(natsConnection*, void* c) {
    auto* l = self(c);
    if (l->counters->connected.exchange(false)) l->counters->disconnects.fetch_add(1, std::memory_order_relaxed);
    notify(c, link_event::disconnected);
}

void on_reconnected(natsConnection*, void* c) {
    auto* l = self(c);
    l->counters->reconnects.fetch_add(1, std::memory_order_relaxed);
    l->counters->connected.store(true);
    notify(c, link_event::reconnected);
}

void on_closed(natsConnection*, void* c) {
    auto* l = self(c);
    l->counters->connected.store(false);
    notify(c, link_event::closed);
    std::shared_ptr<link> last;
    {
        std::lock_guard lock(l->mu);
        last = std::move(l->pin);
    }
    // `last` may be the final reference: the link ends here.
}

void on_error(natsConnection*, natsSubscription*, natsStatus err, void* c) {
    auto* l = self(c);
    if (err == NATS_SLOW_CONSUMER) l->counters->slow_consumer.fetch_add(1, std::memory_order_relaxed);
    else l->opts.log.log(logger::level::error, std::string("nats: ") + natsStatus_GetText(err));
}

// After each round over the servers: exponential, capped, with jitter.
int64_t reconnect_delay(natsConnection*, int attempts, void* c) {
    const auto& o = self(c)->opts;
    const double base = static_cast<double>(o.reconnect_initial.count()) * std::pow(2.0, std::min(attempts, 30));
    const double capped = std::min(base, static_cast<double>(o.reconnect_max.count()));
    thread_local std::mt19937_64 rng(std::random_device{}());
    std::uniform_real_distribution<double> j(-o.reconnect_jitter, o.reconnect_jitter);
    const double d = capped * (1.0 + (o.reconnect_jitter > 0 ? j(rng) : 0.0));
    return std::max<int64_t>(1, static_cast<int64_t>(d));
}

[[noreturn]] void fail(natsStatus s, const char* what) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            std::string("nats: ") + what + ": " + natsStatus_GetText(s));
}

}  // namespace

void connect(const std::shared_ptr<link>& l) {
    {
        std::lock_guard lock(l->mu);
        if (l->closing || l->nc) return;
    }
    l->counters->connect_attempts.fetch_add(1, std::memory_order_relaxed);
    natsOptions* o = nullptr;
    if (natsOptions_Create(&o) != NATS_OK) fail(NATS_NO_MEMORY, "options");
    struct options_guard {
        natsOptions* o;
        ~options_guard() { natsOptions_Destroy(o); }
    } guard{o};
    void* closure = l.get();
    natsStatus s = natsOptions_SetURL(o, l->opts.url.c_str());
    if (s == NATS_OK && !l->opts.name.empty()) s = natsOptions_SetName(o, l->opts.name.c_str());
    if (s == NATS_OK) s = natsOptions_SetTimeout(o, l->opts.connect_timeout.count());
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK) s = natsOptions_SetCustomReconnectDelay(o, reconnect_delay, closure);
    if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(o, true, on_connected, closure);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(o, on_disconnected, closure);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, on_reconnected, closure);
    if (s == NATS_OK) s = natsOptions_SetClosedCB(o, on_closed, closure);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(o, on_error, closure);
    if (s == NATS_OK) s = natsOptions_SetMaxPendingMsgs(o, l->opts.client_max_pending);
    if (s == NATS_OK && l->global_delivery) s = natsOptions_UseGlobalMessageDelivery(o, true);
    if (s != NATS_OK) {
        l->counters->connect_failures.fetch_add(1, std::memory_order_relaxed);
        fail(s, "options");
    }
    {
        std::lock_guard lock(l->mu);
        l->pin = l;  // from here the C client may call back
    }
    natsConnection* nc = nullptr;
    s = natsConnection_Connect(&nc, o);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        {
            std::lock_guard lock(l->mu);
            l->pin.reset();  // no connection: no callback will come
        }
        l->counters->connect_failures.fetch_add(1, std::memory_order_relaxed);
        fail(s, "connect");
    }
    if (s == NATS_OK) {
        l->counters->connected.store(true);
        if (l->on_event) l->on_event(link_event::connected);
    }
    bool close_now = false;
    {
        std::lock_guard lock(l->mu);
        l->nc = nc;
        close_now = l->closing;
    }
    if (close_now) close(l);
}

void close(const std::shared_ptr<link>& l) {
    natsConnection* nc = nullptr;
    {
        std::lock_guard lock(l->mu);
        l->closing = true;
        nc = std::exchange(l->nc, nullptr);
    }
    if (!nc) return;
    natsConnection_Close(nc);  // the closed callback releases the pin
    natsConnection_Destroy(nc);
}

}  // namespace detail
}  // namespace ssehub::nats
