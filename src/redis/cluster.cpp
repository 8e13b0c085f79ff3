// key_slot, the slot map, and cluster_client.
#include "cluster.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/write.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ssehub::redis {

namespace {

// CRC16-XMODEM (polynomial 0x1021, initial 0), as the Redis Cluster spec defines it.
std::uint16_t crc16_xmodem(std::string_view s) noexcept {
    std::uint16_t crc = 0;
    for (unsigned char c : s) {
        crc = static_cast<std::uint16_t>(crc ^ (static_cast<std::uint16_t>(c) << 8));
        for (int bit = 0; bit < 8; ++bit)
            crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

}  // namespace

std::uint16_t key_slot(std::string_view key) noexcept {
    if (const auto open = key.find('{'); open != std::string_view::npos) {
        const auto close = key.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
    }
    return static_cast<std::uint16_t>(crc16_xmodem(key) % detail::slot_count);
}

namespace detail {

using namespace asio::experimental::awaitable_operators;

std::shared_ptr<command_client> make_client(asio::any_io_executor ex, redis_options o) {
    if (!o.cluster.empty()) return std::make_shared<cluster_client>(std::move(ex), std::move(o));
    return std::make_shared<node_client>(std::move(ex), std::move(o));
}

void slot_map::move(std::uint16_t slot, const redis_endpoint& to) {
    auto it = std::find_if(shards.begin(), shards.end(),
                           [&](const redis_endpoint& e) { return e.host == to.host && e.port == to.port; });
    if (it == shards.end()) {
        shards.push_back(to);
        it = shards.end() - 1;
    }
    owner[slot] = static_cast<std::uint16_t>(it - shards.begin());
}

std::string endpoint_name(const redis_endpoint& e) { return e.host + ":" + std::to_string(e.port); }

namespace {

const reply* field_of(const reply& flat, std::string_view name) {
    if (flat.type != reply::kind::array) return nullptr;
    for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2)
        if (flat.elements[i].str == name) return &flat.elements[i + 1];
    return nullptr;
}

}  // namespace

std::optional<slot_map> parse_shards(const reply& r) {
    if (r.type != reply::kind::array || r.elements.empty()) return std::nullopt;
    slot_map m;
    constexpr std::uint16_t none = 0xffff;
    m.owner.assign(slot_count, none);
    for (const reply& shard : r.elements) {
        const reply* slots = field_of(shard, "slots");
        const reply* nodes = field_of(shard, "nodes");
        if (!slots || !nodes || slots->elements.empty()) continue;  // a shard without slots (a new, empty master)
        const reply* master = nullptr;
        for (const reply& n : nodes->elements) {
            const reply* role = field_of(n, "role");
            if (!role || role->str != "master") continue;
            const reply* health = field_of(n, "health");
            if (!master || (health && health->str == "online")) master = &n;
        }
        if (!master) continue;
        const reply* ip = field_of(*master, "ip");
        const reply* endpoint = field_of(*master, "endpoint");
        const reply* port = field_of(*master, "port");
        if (!port || port->integer <= 0 || port->integer > 65535) continue;
        redis_endpoint e;
        e.host = endpoint && !endpoint->str.empty() && endpoint->str != "?" ? endpoint->str : ip ? ip->str : "";
        if (e.host.empty()) continue;
        e.port = static_cast<unsigned short>(port->integer);
        m.shards.push_back(e);
        const auto idx = static_cast<std::uint16_t>(m.shards.size() - 1);
        for (std::size_t i = 0; i + 1 < slots->elements.size(); i += 2) {
            const long long from = slots->elements[i].integer, to = slots->elements[i + 1].integer;
            for (long long s = std::max(0LL, from); s <= to && s < static_cast<long long>(slot_count); ++s)
                m.owner[static_cast<std::size_t>(s)] = idx;
        }
    }
    if (m.shards.empty() || std::find(m.owner.begin(), m.owner.end(), none) != m.owner.end()) return std::nullopt;
    return m;
}

std::optional<redirect> parse_redirect(std::string_view error) {
    redirect r;
    if (error.starts_with("MOVED ")) error.remove_prefix(6);
    else if (error.starts_with("ASK ")) {
        r.ask = true;
        error.remove_prefix(4);
    } else {
        return std::nullopt;
    }
    const auto sp = error.find(' ');
    const auto colon = error.rfind(':');
    if (sp == std::string_view::npos || colon == std::string_view::npos || colon < sp) return std::nullopt;
    unsigned slot = 0, port = 0;
    if (std::from_chars(error.data(), error.data() + sp, slot).ec != std::errc{} || slot >= slot_count) return std::nullopt;
    if (std::from_chars(error.data() + colon + 1, error.data() + error.size(), port).ec != std::errc{} || port == 0 ||
        port > 65535)
        return std::nullopt;
    r.slot = static_cast<std::uint16_t>(slot);
    r.to.host = std::string(error.substr(sp + 1, colon - sp - 1));
    r.to.port = static_cast<unsigned short>(port);
    if (r.to.host.empty()) return std::nullopt;
    return r;
}

std::optional<std::string_view> command_key(const std::vector<std::string>& args) {
    if (args.size() < 2) return std::nullopt;
    std::string cmd = args[0];
    std::transform(cmd.begin(), cmd.end(), cmd.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (cmd == "EVAL" || cmd == "EVALSHA" || cmd == "FCALL") {
        if (args.size() < 4 || args[2] == "0") return std::nullopt;
        return std::string_view(args[3]);
    }
    if (cmd == "CLUSTER" || cmd == "PING" || cmd == "INFO") return std::nullopt;
    return std::string_view(args[1]);
}

redis_options at_endpoint(const redis_options& o, const redis_endpoint& e) {
    redis_options one = o;
    one.cluster.clear();
    one.host = e.host;
    one.port = e.port;
    return one;
}

asio::awaitable<slot_map> fetch_slot_map(const redis_options& o, const std::vector<redis_endpoint>& candidates) {
    std::string last = "no server to ask";
    for (const auto& e : candidates) {
        try {
            reply_reader reader;
            auto sock = co_await connect(at_endpoint(o, e), reader);
            const std::string bytes = format_command({"CLUSTER", "SHARDS"});
            co_await asio::async_write(sock, asio::buffer(bytes), asio::use_awaitable);
            asio::steady_timer timer(sock.get_executor(), o.command_timeout);
            auto got = co_await (read_reply(sock, reader) || timer.async_wait(asio::use_awaitable));
            if (got.index() == 1) throw std::system_error(std::make_error_code(std::errc::timed_out), "CLUSTER SHARDS");
            const reply r = std::move(std::get<0>(got));
            if (r.is_error() && r.str.find("cluster support disabled") != std::string::npos) {
                slot_map m;  // one Redis: every slot is its own
                m.shards.push_back(e);
                m.owner.assign(slot_count, 0);
                co_return m;
            }
            if (auto m = parse_shards(r)) co_return std::move(*m);
            last = endpoint_name(e) + ": " + (r.is_error() ? r.str : "incomplete slot map");
        } catch (const std::exception& x) {
            last = endpoint_name(e) + ": " + x.what();
        }
    }
    throw std::system_error(std::make_error_code(std::errc::connection_refused), "redis cluster map: " + last);
}

// ---- cluster_client ----

cluster_client::cluster_client(asio::any_io_executor ex, redis_options o)
    : opts_(std::move(o)),
      strand_(asio::make_strand(ex)),
      counters_(std::make_shared<connection_counters>()),
      refreshed_signal_(strand_) {}

namespace {

template <class T, class Arg>
asio::awaitable<T> on_strand(std::shared_ptr<cluster_client> self, Arg arg,
                             asio::awaitable<T> (cluster_client::*fn)(Arg)) {
    co_return co_await (self.get()->*fn)(std::move(arg));
}

bool is_connection_failure(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error&) {
        return true;
    } catch (...) {
        return false;
    }
}

// The connection could not be made (or is backing off): the command was not sent.
bool never_sent(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::system_error& x) {
        return x.code() == std::errc::connection_refused || x.code() == asio::error::connection_refused;
    } catch (...) {
    }
    return false;
}

}  // namespace

asio::awaitable<reply> cluster_client::exec(std::vector<std::string> args) {
    co_return co_await asio::co_spawn(strand_, on_strand<reply>(shared_from_this(), std::move(args), &cluster_client::run_one),
                                      asio::use_awaitable);
}

asio::awaitable<std::vector<reply>> cluster_client::exec_many(std::vector<std::vector<std::string>> cmds) {
    co_return co_await asio::co_spawn(
        strand_, on_strand<std::vector<reply>>(shared_from_this(), std::move(cmds), &cluster_client::run_many),
        asio::use_awaitable);
}

void cluster_client::close() {
    asio::post(strand_, [self = shared_from_this()] {
        for (auto& [name, c] : self->nodes_) c->close();
    });
}

std::shared_ptr<node_client> cluster_client::client_for(const redis_endpoint& e) {
    auto& c = nodes_[endpoint_name(e)];
    if (!c) c = std::make_shared<node_client>(strand_.get_inner_executor(), at_endpoint(opts_, e), counters_);
    return c;
}

asio::awaitable<void> cluster_client::ensure_map() {
    for (;;) {
        if (map_) co_return;
        if (refreshing_) {
            std::error_code ec;
            co_await refreshed_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        if (std::chrono::steady_clock::now() < next_refresh_)
            throw std::system_error(std::make_error_code(std::errc::connection_refused),
                                    "redis cluster: slot map unknown (backing off)");
        co_await refresh();
        if (!map_) throw std::system_error(std::make_error_code(std::errc::connection_refused), "redis cluster: no slot map");
    }
}

void cluster_client::request_refresh() {
    if (refresh_scheduled_) return;
    refresh_scheduled_ = true;
    // At once, or when the last refresh's backoff is over (never more often).
    asio::co_spawn(
        strand_,
        [self = shared_from_this()]() -> asio::awaitable<void> {
            asio::steady_timer wait(self->strand_, self->next_refresh_);
            std::error_code ec;
            co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            while (self->refreshing_) co_await self->refreshed_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            self->refresh_scheduled_ = false;
            if (std::chrono::steady_clock::now() >= self->next_refresh_) co_await self->refresh();
        },
        // A failure leaves the next request free to schedule a read (and the
        // command that asked reports its own error): nothing is lost silently.
        [self = shared_from_this()](std::exception_ptr e) {
            if (e) self->refresh_scheduled_ = false;
        });
}

asio::awaitable<void> cluster_client::refresh() {
    refreshing_ = true;
    refreshed_signal_.expires_at(std::chrono::steady_clock::time_point::max());
    auto self = shared_from_this();
    std::vector<redis_endpoint> candidates;
    if (map_) candidates = map_->shards;
    for (const auto& s : opts_.cluster)
        if (std::none_of(candidates.begin(), candidates.end(),
                         [&](const redis_endpoint& e) { return e.host == s.host && e.port == s.port; }))
            candidates.push_back(s);
    refreshes_.fetch_add(1, std::memory_order_relaxed);
    std::optional<slot_map> fresh;
    try {
        fresh = co_await fetch_slot_map(opts_, candidates);
    } catch (const std::exception& x) {
        opts_.log.log(logger::level::error, x.what());
    }
    // At most one refresh per backoff period (with jitter): a cluster in
    // trouble is never asked in a loop.
    const auto base = fresh ? opts_.reconnect_initial.count()
                            : std::min<std::int64_t>(opts_.reconnect_max.count(),
                                                     opts_.reconnect_initial.count() << std::min(failures_, 20u));
    failures_ = fresh ? 0 : failures_ + 1;
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    next_refresh_ = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(base) * jitter(rng_)));
    if (fresh) map_ = std::move(fresh);
    refreshing_ = false;
    refreshed_signal_.cancel();
}

asio::awaitable<reply> cluster_client::run_one(std::vector<std::string> args) {
    auto self = shared_from_this();
    const auto key = command_key(args);
    const std::uint16_t slot = key ? key_slot(*key) : 0;
    for (int attempt = 0;; ++attempt) {
        co_await ensure_map();
        auto node = client_for(map_->at(slot));
        reply r;
        std::exception_ptr failure;
        try {
            r = co_await node->exec(args);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            if (!is_connection_failure(failure)) std::rethrow_exception(failure);
            // A failover moves the slot to a replica: read the map (when the
            // backoff allows) and, if the slot has a new owner, send the
            // command there, but only when it was never sent (refused connect).
            // The wait for the map is bounded: three short refresh periods
            // at most; while map reads keep failing (their backoff has
            // grown), the command fails at once.
            const auto wait = next_refresh_ - std::chrono::steady_clock::now();
            if (attempt < 3 && never_sent(failure) && wait <= 2 * opts_.reconnect_initial) {
                asio::steady_timer turn(strand_, next_refresh_);
                std::error_code ec;
                co_await turn.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                if (refreshing_) co_await refreshed_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                else if (std::chrono::steady_clock::now() >= next_refresh_) co_await refresh();
                continue;
            } else {
                request_refresh();
            }
            std::rethrow_exception(failure);
        }
        if (!r.is_error() || attempt >= 4) co_return r;
        const auto rd = parse_redirect(r.str);
        if (!rd) {
            if (r.str.starts_with("CLUSTERDOWN") || r.str.starts_with("TRYAGAIN")) request_refresh();
            co_return r;
        }
        if (!rd->ask) {  // the slot lives elsewhere now: go there, and read the whole map again
            map_->move(rd->slot, rd->to);
            request_refresh();
            continue;
        }
        // Migrating: this one command goes to the target, preceded by ASKING on the same connection.
        auto target = client_for(rd->to);
        std::vector<std::vector<std::string>> asking;
        asking.push_back({"ASKING"});
        asking.push_back(std::move(args));
        auto rs = co_await target->exec_many(std::move(asking));
        co_return std::move(rs.back());
    }
}

asio::awaitable<std::vector<reply>> cluster_client::run_many(std::vector<std::vector<std::string>> cmds) {
    auto self = shared_from_this();
    co_await ensure_map();
    // One pipeline per shard (by endpoint: the map may be replaced while we wait).
    std::map<std::string, std::pair<redis_endpoint, std::vector<std::size_t>>> by_shard;
    std::string previous;  // the shard of the command before: a WAIT goes with it
    for (std::size_t i = 0; i < cmds.size(); ++i) {
        const auto key = command_key(cmds[i]);
        std::string name = cmds[i].empty() ? std::string() : cmds[i][0];
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        if (name == "WAIT" && !previous.empty()) {
            by_shard[previous].second.push_back(i);
            continue;
        }
        const redis_endpoint& at = map_->at(key ? key_slot(*key) : 0);
        previous = endpoint_name(at);
        auto& group = by_shard[endpoint_name(at)];
        group.first = at;
        group.second.push_back(i);
    }
    std::vector<reply> out(cmds.size());
    std::vector<std::size_t> again;
    for (auto& [name, group] : by_shard) {
        const auto& idx = group.second;
        std::vector<std::vector<std::string>> batch;
        batch.reserve(idx.size());
        for (auto i : idx) batch.push_back(cmds[i]);
        auto node = client_for(group.first);
        std::vector<reply> rs;
        std::exception_ptr failure;
        try {
            rs = co_await node->exec_many(std::move(batch));
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            if (is_connection_failure(failure)) request_refresh();
            std::rethrow_exception(failure);
        }
        for (std::size_t k = 0; k < idx.size(); ++k) {
            if (rs[k].is_error() && parse_redirect(rs[k].str)) again.push_back(idx[k]);
            out[idx[k]] = std::move(rs[k]);
        }
    }
    for (auto i : again) out[i] = co_await run_one(std::move(cmds[i]));  // redirected: one by one
    co_return out;
}

}  // namespace detail
}  // namespace ssehub::redis
