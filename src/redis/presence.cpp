// redis_presence: each node's entries in an expiring hash, queries merged
// from every live node's hash, disconnects broadcast on PREFIX:admin.
#include "ssehub/redis/presence.hpp"

#include "ssehub/redis/subscriber.hpp"

#include "client.hpp"

#include "ssehub/connection.hpp"
#include "ssehub/error.hpp"
#include "ssehub/hub.hpp"
#include "ssehub/json_value.hpp"
#include "ssehub/topic.hpp"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>

namespace ssehub::redis {

using detail::command_client;
using detail::reply;

namespace {

// KEYS[1] the node's hash. ARGV: ttl ms, replace ("1": DEL first), the
// number of pairs to set, the pairs (id, entry), then the ids to delete.
// One step, so a hash never exists without its TTL.
constexpr const char* write_script = R"lua(
if ARGV[2] == '1' then redis.call('DEL', KEYS[1]) end
local i = 4
for k = 1, tonumber(ARGV[3]) do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
  i = i + 1
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
)lua";

// KEYS[1] the node set, KEYS[2] the node's hash; ARGV node, ttl ms. Renews
// the node (score: when it expires, Redis's clock) and its hash's TTL,
// forgets expired nodes. Returns 0 when the hash is missing.
constexpr const char* beat_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('PEXPIRE', KEYS[2], ARGV[2])
)lua";

// KEYS[1] the node set: the nodes not yet expired, with their expiry and
// (ARGV[1] the hash key prefix) their entry counts: {id, expiry, count, ...}.
constexpr const char* nodes_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = redis.call('HLEN', ARGV[1] .. live[i])
end
return out
)lua";

// KEYS[1] the node set: the nodes not yet expired.
constexpr const char* live_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
)lua";

std::error_code error_of(const std::exception& e) {
    if (const auto* se = dynamic_cast<const std::system_error*>(&e)) return se->code();
    return std::make_error_code(std::errc::io_error);
}

json::value metadata_json(const metadata& m) {
    json::object o;
    for (const auto& [k, v] : m) o.emplace_back(k, v);
    return o;
}

std::string entry_json(const connection& c) {
    json::array topics;
    for (const auto& t : c.topics()) topics.emplace_back(t);
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
    return json::serialize(json::object{{"id", c.id()},
                                        {"metadata", metadata_json(c.metadata())},
                                        {"topics", std::move(topics)},
                                        {"connected_at", static_cast<std::int64_t>(secs)}});
}

const std::string* string_member(const json::value& v, std::string_view name) {
    const json::value* m = v.find(name);
    return m && m->is_string() ? &m->as_string() : nullptr;
}

// An entry as stored; nullopt when malformed.
std::optional<presence_entry> parse_entry(std::string_view text) {
    auto v = json::parse(text);
    if (!v || !v->is_object()) return std::nullopt;
    presence_entry e;
    const auto* id = string_member(*v, "id");
    const auto* meta = v->find("metadata");
    const auto* topics = v->find("topics");
    const auto* at = v->find("connected_at");
    if (!id || !meta || !meta->is_object() || !topics || !topics->is_array() || !at || !at->as_int64())
        return std::nullopt;
    e.id = *id;
    for (const auto& [k, val] : meta->as_object()) {
        if (!val.is_string()) return std::nullopt;
        e.metadata[k] = val.as_string();
    }
    for (const auto& t : topics->as_array()) {
        if (!t.is_string()) return std::nullopt;
        e.topics.push_back(t.as_string());
    }
    e.connected_at = std::chrono::system_clock::time_point(std::chrono::seconds(*at->as_int64()));
    return e;
}

bool matches(const presence_entry& e, const presence_filter& f) {
    if (!f.topic.empty() && std::find(e.topics.begin(), e.topics.end(), f.topic) == e.topics.end()) return false;
    for (const auto& [k, v] : f.match) {
        auto it = e.metadata.find(k);
        if (it == e.metadata.end() || it->second != v) return false;
    }
    return true;
}

}  // namespace

struct redis_presence::state : std::enable_shared_from_this<state> {
    // A disconnect waiting for the nodes' counts (strand only).
    struct waiter {
        explicit waiter(asio::any_io_executor ex) : signal(ex) {}
        asio::steady_timer signal;
        std::size_t expected = static_cast<std::size_t>(-1);
        std::size_t answered = 0;
        std::size_t disconnected = 0;
        bool by_id = false;  // one node can have it: the first that did ends the wait

        bool done() const { return answered >= expected || (by_id && disconnected > 0); }
    };

    state(asio::any_io_executor ex, redis_options o, redis_presence_config c)
        : cfg(std::move(c)),
          ro(o),
          client(detail::make_client(ex, std::move(o))),
          strand(asio::make_strand(ex)),
          wake(strand),
          hash_key(cfg.prefix + ":presence:" + cfg.node),
          nodes_key(cfg.prefix + ":presence:nodes"),
          admin_channel(cfg.prefix + ":admin"),
          reply_channel(cfg.prefix + ":admin:" + cfg.node) {}

    redis_presence_config cfg;
    redis_options ro;
    std::shared_ptr<command_client> client;
    asio::strand<asio::any_io_executor> strand;
    asio::steady_timer wake;  // strand only: the refresh loop's sleep, cut short by joined/left
    bool woken = false;       // strand only
    std::atomic<bool> wake_posted{false};
    const std::string hash_key, nodes_key, admin_channel, reply_channel;
    hub* h = nullptr;
    std::atomic<std::uint64_t> seq{0};

    std::mutex mu;  // guards the three below
    std::map<std::string, std::string> local;                  // this node's entries: id → JSON
    std::map<std::string, std::optional<std::string>> dirty;   // not yet in Redis: id → entry (nullopt: gone)
    bool rewrite = true;  // write `local` whole (first run, Redis lost the hash, a write failed)

    std::map<std::string, std::shared_ptr<waiter>> waiting;  // strand only, by request id

    void poke() {
        if (wake_posted.exchange(true)) return;
        asio::post(strand, [self = shared_from_this()] {
            self->woken = true;
            self->wake.cancel();
        });
    }

    // Sends what changed (or everything). False when Redis refused.
    asio::awaitable<bool> flush() {
        std::vector<std::string> sets, dels;
        bool replace = false;
        {
            std::lock_guard lock(mu);
            if (rewrite) {
                replace = true;
                rewrite = false;
                dirty.clear();
                for (const auto& [id, e] : local) {
                    sets.push_back(id);
                    sets.push_back(e);
                }
            } else {
                if (dirty.empty()) co_return true;
                for (auto& [id, e] : dirty) {
                    if (e) {
                        sets.push_back(id);
                        sets.push_back(std::move(*e));
                    } else {
                        dels.push_back(id);
                    }
                }
                dirty.clear();
            }
        }
        std::vector<std::string> args{"EVAL", write_script, "1", hash_key, std::to_string(cfg.ttl.count()),
                                      replace ? "1" : "0", std::to_string(sets.size() / 2)};
        args.insert(args.end(), std::make_move_iterator(sets.begin()), std::make_move_iterator(sets.end()));
        args.insert(args.end(), std::make_move_iterator(dels.begin()), std::make_move_iterator(dels.end()));
        bool ok = false;
        try {
            ok = !(co_await client->exec(std::move(args))).is_error();
        } catch (const std::exception&) {
        }
        if (!ok) {
            std::lock_guard lock(mu);
            rewrite = true;
        }
        co_return ok;
    }

    // Renews the TTLs; a missing hash with entries to show is written again.
    asio::awaitable<void> beat() {
        try {
            std::vector<std::string> args{"EVAL", beat_script, "2", nodes_key, hash_key, cfg.node,
                                          std::to_string(cfg.ttl.count())};
            const reply r = co_await client->exec(std::move(args));
            if (r.type == reply::kind::integer && r.integer == 0) {
                std::lock_guard lock(mu);
                if (!local.empty()) rewrite = true;
            }
        } catch (const std::exception&) {
        }
    }

    // Both loops run as the hub's background work and end with its
    // shutdown (a terminal cancellation), quietly.
    static asio::awaitable<void> until_stopped(asio::awaitable<void> body) {
        std::exception_ptr failure;
        try {
            co_await std::move(body);
        } catch (const std::exception&) {
            failure = std::current_exception();
        }
        if (failure && !stopped(co_await asio::this_coro::cancellation_state)) std::rethrow_exception(failure);
    }

    asio::awaitable<void> refresh_loop() {
        auto self = shared_from_this();
        co_await until_stopped(refresh_forever());
        // The hub is shutting down: this node's entries go now, not at their
        // TTL (best effort, within command_timeout; the shutdown waits for it).
        co_await asio::this_coro::reset_cancellation_state();
        try {
            std::vector<std::string> del{"DEL", hash_key};
            co_await client->exec(std::move(del));
            std::vector<std::string> zrem{"ZREM", nodes_key, cfg.node};
            co_await client->exec(std::move(zrem));
        } catch (const std::exception&) {
        }
    }

    // Used as stopped(co_await asio::this_coro::cancellation_state): that
    // co_await never throws, where co_await on a coroutine would once cancelled.
    static bool stopped(const asio::cancellation_state& cs) { return cs.cancelled() != asio::cancellation_type::none; }

    asio::awaitable<void> refresh_forever() {
        auto next_beat = std::chrono::steady_clock::now();
        for (;;) {
            if (std::chrono::steady_clock::now() >= next_beat) {
                next_beat = std::chrono::steady_clock::now() + cfg.refresh;
                co_await beat();
            }
            woken = false;
            wake_posted.store(false);
            const bool ok = co_await flush();
            // Idle until the next beat; a change wakes it, unless the last
            // write failed (then the next try waits for the beat: no busy loop).
            while (!(ok && woken) && std::chrono::steady_clock::now() < next_beat) {
                wake.expires_at(next_beat);
                std::error_code ec;
                co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                if (stopped(co_await asio::this_coro::cancellation_state)) co_return;
            }
        }
    }

    // The admin channels, resubscribed with backoff after a drop.
    class sink final : public pubsub_sink {
    public:
        explicit sink(std::shared_ptr<state> s) : s_(std::move(s)) {}
        void message(pubsub_message m) override { s_->on_message(std::move(m)); }
        void subscribed() override { up = true; }
        bool up = false;

    private:
        std::shared_ptr<state> s_;
    };

    asio::awaitable<void> admin_loop() {
        auto self = shared_from_this();
        co_await until_stopped(admin_forever());
    }

    asio::awaitable<void> admin_forever() {
        redis_subscriber sub(ro, {admin_channel, reply_channel});
        sink sk(shared_from_this());
        asio::steady_timer backoff(strand);
        unsigned attempt = 0;
        for (;;) {
            sk.up = false;
            try {
                co_await sub.async_run(sk);
            } catch (const std::exception&) {
            }
            if (stopped(co_await asio::this_coro::cancellation_state)) co_return;
            if (sk.up) attempt = 0;
            // 100 ms doubling to 2 s, as ssehubd's event subscriber.
            backoff.expires_after(std::chrono::milliseconds(std::min(2000LL, 100LL << std::min(attempt++, 5u))));
            std::error_code ec;
            co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (stopped(co_await asio::this_coro::cancellation_state)) co_return;
        }
    }

    // On the strand (the subscriber runs there).
    void on_message(pubsub_message m) {
        auto v = json::parse(m.payload);
        if (!v || !v->is_object()) return;
        const auto* req = string_member(*v, "req");
        if (!req) return;
        if (m.channel == reply_channel) {
            const auto it = waiting.find(*req);
            const auto* n = v->find("disconnected");
            if (it == waiting.end() || !n || !n->as_int64()) return;
            auto& w = *it->second;
            ++w.answered;
            w.disconnected += static_cast<std::size_t>(std::max<std::int64_t>(0, *n->as_int64()));
            if (w.done()) w.signal.cancel();
            return;
        }
        const auto* from = string_member(*v, "from");
        if (!from || !h) return;
        std::string id = *req, asker = *from;  // copied before *v moves
        h->spawn(strand, apply(std::move(*v), std::move(id), std::move(asker)));
    }

    // One disconnect request: applied to this node's hub, its count answered.
    asio::awaitable<void> apply(json::value v, std::string req, std::string from) {
        auto self = shared_from_this();
        const auto* reason = string_member(v, "reason");
        const std::string why = reason ? *reason : "admin";
        std::size_t n = 0;
        if (const auto* id = string_member(v, "id")) {
            n = h->disconnect(*id, why) ? 1 : 0;
        } else {
            presence_filter f;
            if (const auto* t = string_member(v, "topic")) f.topic = *t;
            if (const auto* m = v.find("match"); m && m->is_object())
                for (const auto& [k, val] : m->as_object())
                    if (val.is_string()) f.match[k] = val.as_string();
            std::error_code ec;
            n = co_await h->async_disconnect(std::move(f), why, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) n = 0;
        }
        try {
            std::vector<std::string> args{
                "PUBLISH", cfg.prefix + ":admin:" + from,
                json::serialize(json::object{{"req", req}, {"node", cfg.node}, {"disconnected", n}})};
            co_await client->exec(std::move(args));
        } catch (const std::exception&) {
        }
    }

    // On the strand: publishes the request and waits for the counts.
    asio::awaitable<cluster_disconnect_result> broadcast(json::object msg, bool by_id) {
        auto self = shared_from_this();
        cluster_disconnect_result out;
        const std::string req = cfg.node + ":" + std::to_string(++seq);
        msg.emplace_back("req", req);
        msg.emplace_back("from", cfg.node);
        auto w = std::make_shared<waiter>(strand);
        w->by_id = by_id;
        waiting[req] = w;
        try {
            std::vector<std::string> args{"PUBLISH", admin_channel, json::serialize(std::move(msg))};
            const reply r = co_await client->exec(std::move(args));
            if (r.type == reply::kind::integer) w->expected = static_cast<std::size_t>(std::max(0LL, r.integer));
            else out.ec = std::make_error_code(std::errc::io_error);
        } catch (const std::exception& e) {
            out.ec = error_of(e);
        }
        if (!out.ec && !w->done()) {
            w->signal.expires_after(cfg.reply_timeout);
            std::error_code ec;
            co_await w->signal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        waiting.erase(req);
        if (!out.ec) {
            out.nodes = w->expected;
            out.answered = std::min(w->answered, w->expected);
            out.disconnected = w->disconnected;
        }
        co_return out;
    }
};

redis_presence::redis_presence(asio::any_io_executor ex, redis_options o, redis_presence_config cfg)
    : s_(std::make_shared<state>(std::move(ex), std::move(o), std::move(cfg))) {}

redis_presence::~redis_presence() { s_->client->close(); }

void redis_presence::start(hub& h) {
    s_->h = &h;
    auto s = s_;
    h.spawn(s->strand, s->refresh_loop());
    h.spawn(s->strand, s->admin_loop());
}

void redis_presence::joined(const connection& c) {
    std::string e = entry_json(c);
    {
        std::lock_guard lock(s_->mu);
        s_->local[c.id()] = e;
        s_->dirty[c.id()] = std::move(e);
    }
    s_->poke();
}

void redis_presence::left(const connection& c) {
    {
        std::lock_guard lock(s_->mu);
        if (s_->local.erase(c.id()) == 0) return;
        s_->dirty[c.id()] = std::nullopt;
    }
    s_->poke();
}

const connection_counters& redis_presence::counters() const noexcept { return s_->client->counters(); }

asio::awaitable<cluster_nodes> redis_presence::async_nodes() {
    auto s = s_;
    cluster_nodes out;
    try {
        std::vector<std::string> args{"EVAL", nodes_script, "1", s->nodes_key, s->cfg.prefix + ":presence:"};
        const reply r = co_await s->client->exec(std::move(args));
        if (r.type != reply::kind::array || r.elements.size() % 3 != 0)
            throw std::system_error(std::make_error_code(std::errc::io_error));
        for (std::size_t i = 0; i < r.elements.size(); i += 3)
            out.nodes.push_back({r.elements[i].str, static_cast<std::size_t>(std::max<long long>(0, r.elements[i + 2].integer)),
                                 std::strtoll(r.elements[i + 1].str.c_str(), nullptr, 10)});
        std::sort(out.nodes.begin(), out.nodes.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    } catch (const std::exception& e) {
        out.ec = error_of(e);
    }
    co_return out;
}

asio::awaitable<cluster_presence_page> redis_presence::async_presence(presence_query q) {
    auto s = s_;
    cluster_presence_page page;
    if (!q.filter.topic.empty() && !topic::is_valid_pattern(q.filter.topic, s->cfg.max_topic_length)) {
        page.ec = make_error_code(error::invalid_topic);
        co_return page;
    }
    struct found {
        presence_entry e;
        std::string node;
    };
    std::vector<found> past;  // matches after the cursor
    try {
        std::vector<std::string> live{"EVAL", live_script, "1", s->nodes_key};
        const reply nodes = co_await s->client->exec(std::move(live));
        if (nodes.type != reply::kind::array) throw std::system_error(std::make_error_code(std::errc::io_error));
        page.nodes = nodes.elements.size();
        for (const auto& n : nodes.elements) {
            std::vector<std::string> hvals{"HVALS", s->cfg.prefix + ":presence:" + n.str};
            const reply vals = co_await s->client->exec(std::move(hvals));
            for (const auto& v : vals.elements) {
                auto e = parse_entry(v.str);
                if (!e || !matches(*e, q.filter)) continue;
                ++page.total;
                if (q.after.empty() || e->id > q.after) past.push_back({std::move(*e), n.str});
            }
        }
    } catch (const std::exception& e) {
        co_return cluster_presence_page{error_of(e), 0, {}, {}, {}, 0};
    }
    const std::size_t limit = std::min(q.limit, s->cfg.max_presence_page);
    std::sort(past.begin(), past.end(), [](const found& a, const found& b) { return a.e.id < b.e.id; });
    const std::size_t from = std::min(q.offset, past.size());
    const std::size_t to = from + std::min(limit, past.size() - from);
    for (std::size_t i = from; i < to; ++i) {
        page.entries.push_back(std::move(past[i].e));
        page.entry_nodes.push_back(std::move(past[i].node));
    }
    if (to < past.size() && !page.entries.empty()) page.next = page.entries.back().id;
    co_return page;
}

asio::awaitable<cluster_disconnect_result> redis_presence::async_disconnect(std::string connection_id,
                                                                            std::string reason) {
    auto s = s_;
    json::object msg;
    msg.emplace_back("id", std::move(connection_id));
    msg.emplace_back("reason", std::move(reason));
    co_return co_await asio::co_spawn(s->strand, s->broadcast(std::move(msg), true), asio::use_awaitable);
}

asio::awaitable<cluster_disconnect_result> redis_presence::async_disconnect(presence_filter filter,
                                                                            std::string reason) {
    auto s = s_;
    if (!filter.topic.empty() && !topic::is_valid_pattern(filter.topic, s->cfg.max_topic_length))
        co_return cluster_disconnect_result{make_error_code(error::invalid_topic), 0, 0, 0};
    json::object msg;
    msg.emplace_back("reason", std::move(reason));
    msg.emplace_back("match", metadata_json(filter.match));
    if (!filter.topic.empty()) msg.emplace_back("topic", std::move(filter.topic));
    co_return co_await asio::co_spawn(s->strand, s->broadcast(std::move(msg), false), asio::use_awaitable);
}

}  // namespace ssehub::redis
