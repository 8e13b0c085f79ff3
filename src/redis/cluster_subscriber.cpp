// redis_cluster_subscriber: one connection per shard that owns a wanted
// channel, SSUBSCRIBE/SUNSUBSCRIBE as the hub's patterns come and go
// (hub::watch_patterns), everything on the run's executor.
#include "ssehub/redis/cluster.hpp"

#include "cluster.hpp"
#include "ssehub/redis/event_codec.hpp"

#include "ssehub/fan_out/id_window.hpp"
#include "ssehub/hub.hpp"
#include "ssehub/topic.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <charconv>
#include <unordered_map>

namespace ssehub::redis {

namespace {

struct shard_conn {
    redis_endpoint at;
    std::shared_ptr<asio::ip::tcp::socket> sock;  // set once connected
    std::string outbox;
    bool writing = false;
};

// A Stream id as (ms, seq) for ordering; nullopt for a caller's id.
std::optional<std::pair<std::uint64_t, std::uint64_t>> stream_order(std::string_view id) {
    const auto dash = id.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::uint64_t ms = 0, seq = 0;
    if (std::from_chars(id.data(), id.data() + dash, ms).ec != std::errc{} ||
        std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq).ec != std::errc{})
        return std::nullopt;
    return std::pair{ms, seq};
}

// One run. Everything here lives on `ex` (the run's executor, a strand).
struct cluster_run : std::enable_shared_from_this<cluster_run> {
    cluster_run(asio::any_io_executor e, redis_options o, const cluster_subscriber_config& cfg,
                std::shared_ptr<cluster_subscriber_counters> c, detail::slot_map m)
        : ex(std::move(e)), opts(std::move(o)), names{cfg.prefix}, counters(std::move(c)),
          map(std::move(m)), wake(ex), seen(cfg.dedupe_window) {}

    asio::any_io_executor ex;
    redis_options opts;
    sharded_channels names;
    std::shared_ptr<cluster_subscriber_counters> counters;
    detail::slot_map map;
    asio::steady_timer wake;  // the run waits on it: cancelled on a failure
    pubsub_sink* sink = nullptr;
    bool ended = false;
    std::exception_ptr failure;
    std::unordered_map<std::string, std::shared_ptr<shard_conn>> conns;  // by endpoint name
    std::unordered_map<std::string, std::size_t> wanted;                 // channel → reasons (patterns)
    std::unordered_map<std::string, std::size_t> dropping;               // SUNSUBSCRIBEs not yet confirmed
    std::size_t unconfirmed = 0;
    bool announced = false;
    std::vector<pubsub_message> batch;  // read, not yet delivered
    bool flush_posted = false;
    id_window seen;

    std::string channel_of(const std::string& pattern) const {
        return topic::has_wildcard(pattern) ? names.all() : names.topic(pattern);
    }

    void fail(std::exception_ptr e) {
        if (failure || ended) return;
        failure = std::move(e);
        wake.cancel();
    }
    void fail(const std::string& why) {
        fail(std::make_exception_ptr(std::system_error(std::make_error_code(std::errc::connection_reset), why)));
    }

    void add(const std::string& channel) {
        if (ended || wanted[channel]++ > 0) return;
        ++unconfirmed;
        send(channel, {"SSUBSCRIBE", channel});
    }

    void remove(const std::string& channel) {
        auto w = wanted.find(channel);
        if (ended || w == wanted.end() || --w->second > 0) return;
        wanted.erase(w);
        ++dropping[channel];
        send(channel, {"SUNSUBSCRIBE", channel});
    }

    // An exception that escapes a connection's coroutine ends the run (as its
    // own failures do) instead of vanishing.
    auto ended_by() {
        return [self = shared_from_this()](std::exception_ptr e) {
            if (e) self->fail(std::move(e));
        };
    }

    void send(const std::string& channel, const std::vector<std::string>& args) {
        const redis_endpoint& at = map.at(key_slot(channel));
        auto& c = conns[detail::endpoint_name(at)];
        if (!c) {
            c = std::make_shared<shard_conn>();
            c->at = at;
            asio::co_spawn(ex, connection(c), ended_by());
        }
        c->outbox += detail::format_command(args);
        write(c);
    }

    void write(const std::shared_ptr<shard_conn>& c) {
        if (!c->sock || c->writing || c->outbox.empty()) return;
        c->writing = true;
        asio::co_spawn(ex, writer(c), ended_by());
    }


    asio::awaitable<void> writer(std::shared_ptr<shard_conn> c) {
        auto self = shared_from_this();
        while (!ended && !c->outbox.empty()) {
            std::string buf;
            buf.swap(c->outbox);
            std::error_code ec;
            co_await asio::async_write(*c->sock, asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                fail("redis cluster: write to " + detail::endpoint_name(c->at) + ": " + ec.message());
                break;
            }
        }
        c->writing = false;
    }

    asio::awaitable<void> connection(std::shared_ptr<shard_conn> c) {
        auto self = shared_from_this();
        auto reader = std::make_shared<detail::reply_reader>();
        counters->conn.connect_attempts.fetch_add(1, std::memory_order_relaxed);
        std::exception_ptr failed;
        try {
            auto sock = co_await detail::connect(detail::at_endpoint(opts, c->at), *reader);
            c->sock = std::make_shared<asio::ip::tcp::socket>(std::move(sock));
        } catch (...) {
            failed = std::current_exception();
        }
        if (failed) {
            counters->conn.connect_failures.fetch_add(1, std::memory_order_relaxed);
            fail(failed);
            co_return;
        }
        if (ended) co_return;  // closed by the run's end
        counters->shards.fetch_add(1, std::memory_order_relaxed);
        write(c);
        auto sock = c->sock;
        char buf[16384];
        for (;;) {
            std::error_code ec;
            const std::size_t n = co_await sock->async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
            if (ended) co_return;
            if (ec) {
                fail("redis cluster: shard " + detail::endpoint_name(c->at) + ": " + ec.message());
                co_return;
            }
            try {
                reader->feed(buf, n);
                while (auto r = reader->next()) handle(std::move(*r), *c);
            } catch (...) {
                fail(std::current_exception());
                co_return;
            }
            if (!batch.empty() && !flush_posted) {  // after the other connections' reads of this round
                flush_posted = true;
                asio::post(ex, [self] { self->flush(); });
            }
        }
    }

    void handle(detail::reply r, const shard_conn& c) {
        using detail::reply;
        if (r.is_error()) {
            if (detail::parse_redirect(r.str)) counters->slot_moves.fetch_add(1, std::memory_order_relaxed);
            fail("redis cluster: " + detail::endpoint_name(c.at) + ": " + r.str);  // a MOVED: read the map again
            return;
        }
        if (r.type != reply::kind::array || r.elements.size() < 3) return;
        const std::string& kind = r.elements[0].str;
        if (kind == "smessage") {
            counters->messages.fetch_add(1, std::memory_order_relaxed);
            counters->bytes.fetch_add(r.elements[2].str.size(), std::memory_order_relaxed);
            batch.push_back(pubsub_message{std::move(r.elements[1].str), {}, std::move(r.elements[2].str)});
        } else if (kind == "ssubscribe") {
            counters->channels.fetch_add(1, std::memory_order_relaxed);
            if (unconfirmed > 0) --unconfirmed;
            if (unconfirmed == 0 && !announced && sink) {
                announced = true;
                counters->conn.connected.store(true);
                sink->subscribed();
            }
        } else if (kind == "sunsubscribe") {
            const std::string& channel = r.elements[1].str;
            auto d = dropping.find(channel);
            if (d != dropping.end()) {
                counters->channels.fetch_sub(1, std::memory_order_relaxed);
                if (--d->second == 0) dropping.erase(d);
            } else {  // not ours: the slot moved to another shard
                counters->slot_moves.fetch_add(1, std::memory_order_relaxed);
                fail("redis cluster: " + channel + " moved away from " + detail::endpoint_name(c.at));
            }
        }
    }

    void flush() {
        flush_posted = false;
        std::vector<pubsub_message> ready;
        ready.swap(batch);
        if (!sink) return;
        // Id order within the round (several shards): Stream ids sort; a
        // caller's id keeps its place.
        std::vector<std::optional<std::pair<std::uint64_t, std::uint64_t>>> order;
        order.reserve(ready.size());
        bool sortable = true;
        for (const auto& m : ready) {
            order.push_back(stream_order(std::string_view(m.payload).substr(0, m.payload.find('\n'))));
            sortable = sortable && order.back();
        }
        if (sortable && ready.size() > 1) {
            std::vector<std::size_t> idx(ready.size());
            for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
            std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return *order[a] < *order[b]; });
            std::vector<pubsub_message> sorted;
            sorted.reserve(ready.size());
            for (auto i : idx) sorted.push_back(std::move(ready[i]));
            ready.swap(sorted);
        }
        for (auto& m : ready) {
            const auto nl = m.payload.find('\n');
            if (nl != std::string::npos && !seen.first(std::string_view(m.payload).substr(0, nl))) {
                counters->duplicates.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            if (!sink) return;
            sink->message(std::move(m));
        }
    }

    void close() {
        ended = true;
        sink = nullptr;
        for (auto& [name, c] : conns) {
            if (!c->sock) continue;
            std::error_code ignored;
            c->sock->close(ignored);
        }
        conns.clear();
        counters->shards.store(0);
        counters->channels.store(0);
        counters->conn.connected.store(false);
    }
};

}  // namespace

redis_cluster_subscriber::redis_cluster_subscriber(redis_options o, hub& interest, cluster_subscriber_config cfg)
    : opts_(std::move(o)),
      interest_(&interest),
      cfg_(std::move(cfg)),
      counters_(std::make_shared<cluster_subscriber_counters>()),
      known_(std::make_shared<std::vector<redis_endpoint>>()) {}

redis_cluster_subscriber::redis_cluster_subscriber(redis_options o, std::vector<std::string> patterns,
                                                   cluster_subscriber_config cfg)
    : opts_(std::move(o)),
      patterns_(std::move(patterns)),
      cfg_(std::move(cfg)),
      counters_(std::make_shared<cluster_subscriber_counters>()),
      known_(std::make_shared<std::vector<redis_endpoint>>()) {}

asio::awaitable<void> redis_cluster_subscriber::async_run(pubsub_sink& sink) {
    co_await asio::this_coro::throw_if_cancelled(false);  // the run cleans up after a cancellation
    auto ex = co_await asio::this_coro::executor;
    // The servers of the last map first (a failed-over master's replica is
    // there), then the seeds.
    std::vector<redis_endpoint> candidates = *known_;
    for (const auto& s : opts_.cluster.empty() ? std::vector<redis_endpoint>{{opts_.host, opts_.port}} : opts_.cluster)
        if (std::none_of(candidates.begin(), candidates.end(),
                         [&](const redis_endpoint& e) { return e.host == s.host && e.port == s.port; }))
            candidates.push_back(s);
    auto counters = counters_;
    detail::slot_map map = co_await detail::fetch_slot_map(opts_, candidates);  // throws: fan_out retries after its backoff
    *known_ = map.shards;
    auto st = std::make_shared<cluster_run>(ex, opts_, cfg_, counters, std::move(map));
    st->sink = &sink;
    st->add(st->names.groups());
    for (const auto& p : patterns_) st->add(st->channel_of(p));
    std::weak_ptr<cluster_run> weak = st;
    hub* h = interest_;
    std::uint64_t watch = 0;
    if (h)
        watch = h->watch_patterns([weak](const std::string& pattern, bool up) {
            auto s = weak.lock();
            if (!s) return;
            asio::post(s->ex, [s, pattern, up] {
                const std::string channel = s->channel_of(pattern);
                if (up) s->add(channel);
                else s->remove(channel);
            });
        });
    auto cs = co_await asio::this_coro::cancellation_state;
    while (!st->failure && cs.cancelled() == asio::cancellation_type::none) {
        st->wake.expires_at(asio::steady_timer::time_point::max());
        std::error_code ec;
        co_await st->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (h && watch) h->unwatch_interest(watch);
    auto failure = st->failure;
    st->close();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace ssehub::redis
