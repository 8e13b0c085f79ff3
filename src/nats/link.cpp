#include "link.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

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
    // Joined, not stopped, at exit: the closes posted last still run, so no
    // connection outlives the program's static objects.
    struct joined_pool {
        asio::thread_pool pool{1};
        ~joined_pool() { pool.join(); }
    };
    static joined_pool p;
    return p.pool;
}

namespace {

// Leaked on purpose: the C client's threads may call back during exit.
struct registry_t {
    std::mutex mu;
    std::uint64_t next = 0;
    std::unordered_map<std::uint64_t, std::weak_ptr<link>> links;
};
registry_t& registry() {
    static auto* r = new registry_t;
    return *r;
}

std::shared_ptr<link> self(void* closure) {
    auto& r = registry();
    std::lock_guard lock(r.mu);
    const auto it = r.links.find(reinterpret_cast<std::uintptr_t>(closure));
    return it == r.links.end() ? nullptr : it->second.lock();
}

void on_connected(natsConnection*, void* c) {
    if (auto l = self(c)) {
        l->counters->connected.store(true);
        if (l->on_event) l->on_event(link_event::connected);
    }
}

void on_disconnected(natsConnection*, void* c) {
    if (auto l = self(c)) {
        if (l->counters->connected.exchange(false)) l->counters->disconnects.fetch_add(1, std::memory_order_relaxed);
        if (l->on_event) l->on_event(link_event::disconnected);
    }
}

void on_reconnected(natsConnection*, void* c) {
    if (auto l = self(c)) {
        l->counters->reconnects.fetch_add(1, std::memory_order_relaxed);
        l->counters->connected.store(true);
        if (l->on_event) l->on_event(link_event::reconnected);
    }
}

void on_closed(natsConnection*, void* c) {
    if (auto l = self(c)) {
        l->counters->connected.store(false);
        if (l->on_event) l->on_event(link_event::closed);
    }
}

void on_error(natsConnection*, natsSubscription*, natsStatus err, void* c) {
    auto l = self(c);
    if (!l) return;
    if (err == NATS_SLOW_CONSUMER) l->counters->slow_consumer.fetch_add(1, std::memory_order_relaxed);
    else l->opts.log.log(logger::level::error, std::string("nats: ") + natsStatus_GetText(err));
}

// After each round over the servers: exponential, capped, with jitter.
int64_t reconnect_delay(natsConnection*, int attempts, void* c) {
    const auto l = self(c);
    if (!l) return 1000;  // a connection being closed
    const auto& o = l->opts;
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

link::~link() {
    if (key == 0) return;
    auto& r = registry();
    std::lock_guard lock(r.mu);
    r.links.erase(key);
}

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
    {
        auto& r = registry();
        std::lock_guard lock(r.mu);
        l->key = ++r.next;
        r.links.emplace(l->key, l);
    }
    void* closure = reinterpret_cast<void*>(static_cast<std::uintptr_t>(l->key));
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
    natsConnection* nc = nullptr;
    s = natsConnection_Connect(&nc, o);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
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
    natsConnection_Close(nc);
    natsConnection_Destroy(nc);
}

}  // namespace detail
}  // namespace ssehub::nats
