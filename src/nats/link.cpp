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

std::string multi_subject(const nats_options& o) {
    return o.prefix.empty() ? std::string("_ssehub_multi") : o.prefix + "_multi";
}

std::string live_subject(const nats_options& o, std::string_view subject) {
    std::string s = o.prefix.empty() ? std::string("_ssehub_live") : o.prefix + "_live";
    s += '.';
    s += subject;
    return s;
}

namespace detail {

namespace {
// Joined, not stopped, at exit: the closes posted last still run, so no
// connection outlives the program's static objects.
struct joined_pool {
    explicit joined_pool(std::size_t threads) : pool(threads) {}
    asio::thread_pool pool;
    ~joined_pool() { pool.join(); }
};
}  // namespace

asio::thread_pool& blocking_pool() {
    static joined_pool p(1);
    return p.pool;
}

asio::thread_pool& replay_pool() {
    static joined_pool p(2);
    return p.pool;
}

void connect_in_background(const std::shared_ptr<link>& l) {
    asio::post(blocking_pool(), [l] {
        try {
            connect(l);
        } catch (const std::exception& e) {
            l->opts.log.log(logger::level::error, e.what());
        }
    });
}

void close_in_background(const std::shared_ptr<link>& l, std::function<void()> after) {
    {
        std::lock_guard lock(l->mu);
        l->closing = true;
    }
    asio::post(blocking_pool(), [l, after = std::move(after)] {
        close(l);
        if (after) after();
    });
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
    l->counters->reconnect_rounds.fetch_add(1, std::memory_order_relaxed);
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

void on_js_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* c) {
    if (auto l = self(c); l && l->on_ack) l->on_ack(msg, pa, pae);
    natsMsg_Destroy(msg);  // ours to destroy with an AckHandler
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
    jsCtx* js = nullptr;
    if (l->opts.jetstream.enabled) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = l->opts.jetstream.publish_timeout.count();
        if (l->on_ack) {
            jo.PublishAsync.AckHandler = on_js_ack;
            jo.PublishAsync.AckHandlerClosure = closure;
            // The publisher refuses beyond max_inflight itself: the C client never stalls a publish.
            jo.PublishAsync.MaxPending = static_cast<int64_t>(l->opts.jetstream.max_inflight) + 64;
        }
        const natsStatus js_s = natsConnection_JetStream(&js, nc, &jo);
        if (js_s != NATS_OK) {
            natsConnection_Destroy(nc);
            l->counters->connect_failures.fetch_add(1, std::memory_order_relaxed);
            fail(js_s, "jetstream");
        }
    }
    bool close_now = false;
    {
        std::lock_guard lock(l->mu);
        l->nc = nc;
        l->js = js;
        close_now = l->closing;
    }
    // After nc is set: a callback may look at it.
    if (s == NATS_OK) {
        l->counters->connected.store(true);
        if (l->on_event) l->on_event(link_event::connected);
    }
    if (close_now) close(l);
}

void close(const std::shared_ptr<link>& l) {
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    {
        std::lock_guard lock(l->mu);
        l->closing = true;
    }
    std::unique_lock users(l->use_mu);  // the blocking JetStream calls in flight end first
    {
        std::lock_guard lock(l->mu);
        nc = std::exchange(l->nc, nullptr);
        js = std::exchange(l->js, nullptr);
    }
    if (!nc) return;
    natsConnection_Close(nc);
    if (js) jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

void ensure_stream(const std::shared_ptr<link>& l) {
    const auto& o = l->opts;
    const auto& j = o.jetstream;
    l->counters->stream_checks.fetch_add(1, std::memory_order_relaxed);
    auto refuse = [](std::string what) {
        throw std::system_error(std::make_error_code(std::errc::io_error), "nats: stream " + what);
    };
    if (o.prefix.empty()) refuse("needs a subject prefix (nats_options::prefix)");
    std::shared_lock users(l->use_mu);  // js stays alive (close waits)
    jsCtx* js = nullptr;
    {
        std::lock_guard lock(l->mu);
        js = l->closing ? nullptr : l->js;
    }
    if (!js) refuse(j.stream + ": not connected");
    jsStreamInfo* si = nullptr;
    jsErrCode jerr{};
    natsStatus s = js_GetStreamInfo(&si, js, j.stream.c_str(), nullptr, &jerr);
    const std::string live_all = live_subject(o, ">");
    if (s == NATS_OK) {
        const jsRePublish* rp = si->Config ? si->Config->RePublish : nullptr;
        const bool republishes = rp && rp->Destination && live_all == rp->Destination;
        jsStreamInfo_Destroy(si);
        if (!republishes)
            refuse(j.stream + " exists without the republish to " + live_all + " that live delivery needs");
        return;
    }
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
        refuse(j.stream + ": " + natsStatus_GetText(s) + " " + std::string(nats_GetLastError(nullptr)));
    const std::string topics = subject_of(o, ">");
    const std::string groups = group_subject(o);
    const std::string multi = multi_subject(o);
    const char* subjects[] = {topics.c_str(), groups.c_str(), multi.c_str()};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = j.stream.c_str();
    sc.Subjects = subjects;
    sc.SubjectsLen = 3;
    sc.MaxMsgs = j.max_msgs > 0 ? j.max_msgs : -1;
    sc.MaxAge = j.max_age.count() > 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(j.max_age).count() : 0;
    sc.Storage = j.memory_storage ? js_MemoryStorage : js_FileStorage;
    jsRePublish rp;
    jsRePublish_Init(&rp);
    rp.Source = ">";
    rp.Destination = live_all.c_str();
    sc.RePublish = &rp;
    jerr = {};
    s = js_AddStream(nullptr, js, &sc, nullptr, &jerr);
    // Another node created it at the same time: fine (its config was checked there).
    if (s != NATS_OK && jerr != JSStreamNameExistErr)
        refuse(j.stream + ": create: " + natsStatus_GetText(s) + " " + std::string(nats_GetLastError(nullptr)));
}

}  // namespace detail
}  // namespace ssehub::nats
