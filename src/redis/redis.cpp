// redis_subscriber, redis_publisher, redis_streams_replayer, redis_ticket_store.
#include "ssehub/redis/publisher.hpp"
#include "ssehub/redis/streams_replayer.hpp"
#include "ssehub/redis/subscriber.hpp"
#include "ssehub/redis/ticket_store.hpp"

#include "ssehub/redis/cluster.hpp"
#include "ssehub/redis/event_codec.hpp"

#include "client.hpp"

#include "ssehub/error.hpp"
#include "ssehub/topic.hpp"
#include "ssehub/wire.hpp"

#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cstdlib>

namespace ssehub::redis {

using detail::command_client;
using detail::reply;

// ---- redis_subscriber ----

redis_subscriber::redis_subscriber(redis_options o, std::vector<std::string> channels, std::vector<std::string> patterns)
    : opts_(std::move(o)),
      channels_(std::move(channels)),
      patterns_(std::move(patterns)),
      counters_(std::make_shared<connection_counters>()) {}

asio::awaitable<void> redis_subscriber::async_run(pubsub_sink& sink) {
    auto counters = counters_;  // this object may be moved while we run; the counters stay
    counters->connect_attempts.fetch_add(1, std::memory_order_relaxed);
    detail::reply_reader reader;
    asio::ip::tcp::socket sock(co_await asio::this_coro::executor);
    std::exception_ptr failure;
    try {
        sock = co_await detail::connect(opts_, reader);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        counters->connect_failures.fetch_add(1, std::memory_order_relaxed);
        std::rethrow_exception(failure);
    }
    std::string out;
    if (!channels_.empty()) {
        std::vector<std::string> args{"SUBSCRIBE"};
        args.insert(args.end(), channels_.begin(), channels_.end());
        out += detail::format_command(args);
    }
    if (!patterns_.empty()) {
        std::vector<std::string> args{"PSUBSCRIBE"};
        args.insert(args.end(), patterns_.begin(), patterns_.end());
        out += detail::format_command(args);
    }
    co_await asio::async_write(sock, asio::buffer(out), asio::use_awaitable);
    const std::size_t expected = channels_.size() + patterns_.size();
    std::size_t confirmed = 0;
    struct connected_flag {  // cleared however this run ends
        connection_counters& c;
        ~connected_flag() { c.connected.store(false); }
    } flag{*counters};
    for (;;) {
        reply r = co_await detail::read_reply(sock, reader);
        if (r.type != reply::kind::array || r.elements.empty()) {
            if (r.is_error()) throw std::system_error(std::make_error_code(std::errc::protocol_error), "redis: " + r.str);
            continue;
        }
        const std::string& kind = r.elements[0].str;
        if (kind == "message" && r.elements.size() == 3) {
            sink.message(pubsub_message{std::move(r.elements[1].str), {}, std::move(r.elements[2].str)});
        } else if (kind == "pmessage" && r.elements.size() == 4) {
            sink.message(pubsub_message{std::move(r.elements[2].str), std::move(r.elements[1].str),
                                        std::move(r.elements[3].str)});
        } else if (kind == "subscribe" || kind == "psubscribe") {
            if (++confirmed == expected) {
                counters->connected.store(true);
                sink.subscribed();
            }
        }
    }
}

// ---- redis_publisher ----

namespace {

// KEYS[1] stream, KEYS[2] the caller id's key (when ARGV[4] is not empty);
// ARGV[1] max len, ARGV[2] event JSON, ARGV[3] channel, ARGV[4] the caller's
// id, ARGV[5] how long its key maps it to the entry (ms), ARGV[6] PUBLISH,
// or SPUBLISH on a cluster (the channel is then in the keys' slot).
constexpr const char* publish_script = R"lua(
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
local shown = id
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[2], id, 'PX', ARGV[5], 'NX')  -- a reused id resumes from its first entry
  shown = ARGV[4]
end
local n = redis.call(ARGV[6], ARGV[3], shown .. '\n' .. ARGV[2])
return {shown, n}
)lua";

// Without a Stream: the id is Redis's clock (TIME) and a counter, so it still
// sorts and never repeats; it cannot be replayed.
constexpr const char* publish_script_no_stream = R"lua(
local t = redis.call('TIME')
local seq = redis.call('INCR', KEYS[1])
local id = t[1] .. string.format('%03d', math.floor(t[2] / 1000)) .. '-' .. seq
if ARGV[4] ~= '' then id = ARGV[4] end
local n = redis.call(ARGV[6], ARGV[3], id .. '\n' .. ARGV[2])
return {id, n}
)lua";

std::error_code redis_error_code(const std::exception& e) {
    if (const auto* se = dynamic_cast<const std::system_error*>(&e)) return se->code();
    return std::make_error_code(std::errc::io_error);
}

}  // namespace

redis_publisher::redis_publisher(asio::any_io_executor ex, redis_options o, redis_publisher_config cfg)
    : client_(detail::make_client(std::move(ex), std::move(o))), cfg_(std::move(cfg)) {}

redis_publisher::~redis_publisher() {
    if (client_) client_->close();
}

const connection_counters& redis_publisher::counters() const noexcept { return client_->counters(); }

asio::awaitable<redis_publish_result> redis_publisher::async_publish(event ev) {
    redis_publish_result out;
    if (ev.topics.empty() && ev.group.empty()) out.ec = error::no_target;
    for (const auto& t : ev.topics)
        if (!out.ec && !topic::is_valid_subject(t, cfg_.max_topic_length)) out.ec = error::invalid_topic;
    if (!out.ec && ev.id.size() > 256) out.ec = error::invalid_event_field;
    if (!out.ec) out.ec = wire::validate_id(ev.id);
    if (!out.ec) out.ec = wire::validate_type(ev.type);
    if (out.ec) co_return out;
    const bool stream = !cfg_.stream.empty();
    const bool sharded = !cfg_.sharded_prefix.empty();
    const sharded_channels names{cfg_.sharded_prefix};
    const std::string channel = sharded ? names.all() : cfg_.channel;
    std::string json = encode_event(ev, unix_ms());
    std::vector<std::string> args{"EVAL",
                                  stream ? publish_script : publish_script_no_stream,
                                  "2",
                                  stream ? cfg_.stream : channel + ":seq",
                                  cfg_.id_key_prefix + ev.id,
                                  std::to_string(cfg_.stream_max_len),
                                  json,
                                  channel,
                                  ev.id,
                                  std::to_string(std::max<std::int64_t>(1, cfg_.id_ttl.count())),
                                  sharded ? "SPUBLISH" : "PUBLISH"};
    auto client = client_;
    try {
        reply r;
        if (cfg_.wait_replicas == 0) {
            r = co_await client->exec(std::move(args));
        } else {  // WAIT on the script's connection (a cluster sends it to the script's shard)
            std::vector<std::vector<std::string>> cmds;
            cmds.push_back(std::move(args));
            cmds.push_back({"WAIT", std::to_string(cfg_.wait_replicas),
                            std::to_string(std::max<std::int64_t>(1, cfg_.wait_timeout.count()))});
            auto rs = co_await client->exec_many(std::move(cmds));
            if (rs.size() == 2 && rs[1].type == reply::kind::integer) out.replicas = rs[1].integer;
            r = std::move(rs.front());
        }
        if (r.type == reply::kind::array && r.elements.size() == 2) {
            out.id = r.elements[0].str;
            out.nodes = static_cast<std::size_t>(std::max<long long>(0, r.elements[1].integer));
        } else {
            out.ec = std::make_error_code(std::errc::io_error);
        }
    } catch (const std::exception& e) {
        out.ec = redis_error_code(e);
    }
    if (!out.ec && cfg_.wait_replicas > 0 && out.replicas < static_cast<long long>(cfg_.wait_replicas))
        out.ec = std::make_error_code(std::errc::timed_out);  // published, not confirmed: still fanned out below
    if (out.id.empty() || !sharded) co_return out;
    // The interest fan-out: the same message on each topic's channel (on the
    // shards owning them, one pipeline each). The event is in the Stream
    // already: a failure here loses its live delivery only (replay has it).
    const std::string message = out.id + "\n" + json;
    std::vector<std::vector<std::string>> cmds;
    for (const auto& t : ev.topics) cmds.push_back({"SPUBLISH", names.topic(t), message});
    if (ev.topics.empty()) cmds.push_back({"SPUBLISH", names.groups(), message});
    try {
        for (const reply& r : co_await client->exec_many(std::move(cmds)))
            if (r.type == reply::kind::integer) out.nodes += static_cast<std::size_t>(std::max<long long>(0, r.integer));
    } catch (const std::exception&) {  // counted in counters().command_errors
    }
    co_return out;
}

fan_out_config redis_fan_out_config() {
    fan_out_config cfg;
    cfg.transform = [](const pubsub_message& m, event) -> std::optional<event> {
        auto d = decode_message(m.payload, unix_ms());
        if (!d || d->expired) return std::nullopt;  // malformed, or its TTL passed on the way
        return std::move(d->ev);
    };
    return cfg;
}

// ---- redis_streams_replayer ----

namespace {

std::int64_t stream_id_ms(std::string_view id) noexcept {
    return std::strtoll(std::string(id.substr(0, id.find('-'))).c_str(), nullptr, 10);
}

const std::string* field(const reply& fields, std::string_view name) {
    for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2)
        if (fields.elements[i].str == name) return &fields.elements[i + 1].str;
    return nullptr;
}

}  // namespace

redis_streams_replayer::redis_streams_replayer(asio::any_io_executor ex, redis_options o, streams_replayer_config cfg)
    : client_(detail::make_client(std::move(ex), std::move(o))), cfg_(std::move(cfg)) {}

redis_streams_replayer::~redis_streams_replayer() {
    if (client_) client_->close();
}

const connection_counters& redis_streams_replayer::counters() const noexcept { return client_->counters(); }

asio::awaitable<void> redis_streams_replayer::async_store(stored_event) { co_return; }

asio::awaitable<replay_result> redis_streams_replayer::async_replay(std::string_view last_id_view,
                                                                    const std::vector<std::string>& patterns_ref,
                                                                    const metadata& meta_ref, std::size_t max_events) {
    replay_result out;
    // Copies: the caller's arguments need only live until the first suspension.
    const std::string last_id(last_id_view);
    const std::vector<std::string> patterns = patterns_ref;
    const metadata meta = meta_ref;
    auto client = client_;
    // A caller's id resumes from the Stream entry its key maps it to.
    std::string resume = last_id;
    const bool everything = !cfg_.earliest_id.empty() && last_id == cfg_.earliest_id;
    if (everything) {
        resume = "-";  // the Stream's start, inclusive
    } else if (!is_stream_id(resume)) {
        if (cfg_.id_key_prefix.empty() || last_id.empty()) co_return out;
        std::vector<std::string> get{"GET", cfg_.id_key_prefix + last_id};
        const reply r = co_await client->exec(std::move(get));
        if (r.is_error()) throw std::system_error(std::make_error_code(std::errc::io_error), "redis GET: " + r.str);
        if (r.type != reply::kind::string || !is_stream_id(r.str)) co_return out;  // unknown, or expired
        resume = r.str;
    }
    const std::int64_t now = unix_ms();
    const std::int64_t too_old = cfg_.max_age.count() > 0 ? now - cfg_.max_age.count() : 0;
    if (!everything && stream_id_ms(resume) < too_old) co_return out;
    const std::size_t page = std::max<std::size_t>(cfg_.page, 2);
    std::string from = resume;  // inclusive on the first page: proves the id is still in the Stream
    bool first = true;
    std::size_t scanned = 0;
    for (;;) {
        std::vector<std::string> args{"XRANGE", cfg_.stream, first ? from : "(" + from, "+", "COUNT", std::to_string(page)};
        const reply r = co_await client->exec(std::move(args));
        if (r.is_error()) throw std::system_error(std::make_error_code(std::errc::io_error), "redis XRANGE: " + r.str);
        std::size_t i = 0;
        if (first && everything) {
            out.known = true;
            first = false;
        } else if (first) {
            if (r.elements.empty() || r.elements[0].elements.empty() || r.elements[0].elements[0].str != resume)
                co_return out;  // trimmed away or never there
            out.known = true;
            i = 1;
            first = false;
        }
        for (; i < r.elements.size(); ++i) {
            const reply& entry = r.elements[i];
            if (entry.elements.size() != 2) continue;
            const std::string& id = entry.elements[0].str;
            from = id;
            ++scanned;
            if (everything && stream_id_ms(id) < too_old) continue;
            const std::string* e = field(entry.elements[1], "e");
            if (!e) continue;
            auto d = decode_event(*e, now);
            if (!d || d->expired) continue;
            if (cfg_.transform) cfg_.transform(d->ev);
            const event& ev = d->ev;
            if (!replay_matches(ev.topics, ev.group, patterns, meta)) continue;
            if (out.events.size() == max_events) {
                out.truncated = true;
                co_return out;
            }
            frame f;
            const std::string& shown = ev.id.empty() ? id : ev.id;  // a caller's id, as delivered live
            if (wire::make_frame(ev, shown, f)) continue;
            out.events.push_back(replayed_event{shown, std::move(f)});
        }
        if (r.elements.size() < page) co_return out;  // the end of the Stream
        if (scanned >= cfg_.max_scan) {
            out.truncated = true;
            co_return out;
        }
    }
}

// ---- redis_ticket_store ----

redis_ticket_store::redis_ticket_store(asio::any_io_executor ex, redis_options o, std::string key_prefix)
    : client_(detail::make_client(std::move(ex), std::move(o))), prefix_(std::move(key_prefix)) {}

redis_ticket_store::~redis_ticket_store() {
    if (client_) client_->close();
}

const connection_counters& redis_ticket_store::counters() const noexcept { return client_->counters(); }

asio::awaitable<std::error_code> redis_ticket_store::async_put(std::string ticket, std::string value,
                                                              std::chrono::milliseconds ttl) {
    if (ttl.count() <= 0) co_return std::make_error_code(std::errc::invalid_argument);
    auto client = client_;
    try {
        std::vector<std::string> args{"SET", prefix_ + ticket, std::move(value), "PX", std::to_string(ttl.count())};
        const reply r = co_await client->exec(std::move(args));
        if (r.is_error()) co_return std::make_error_code(std::errc::io_error);
    } catch (const std::exception& e) {
        co_return redis_error_code(e);
    }
    co_return std::error_code{};
}

asio::awaitable<std::optional<std::string>> redis_ticket_store::async_get(std::string_view ticket) {
    std::string key = prefix_ + std::string(ticket);
    auto client = client_;
    try {
        std::vector<std::string> args{"GET", std::move(key)};
        reply r = co_await client->exec(std::move(args));
        if (r.type == reply::kind::string) co_return std::move(r.str);
    } catch (const std::exception&) {
    }
    co_return std::nullopt;
}

asio::awaitable<std::optional<std::string>> redis_ticket_store::async_take(std::string_view ticket) {
    std::string key = prefix_ + std::string(ticket);
    auto client = client_;
    try {
        std::vector<std::string> args{"GETDEL", std::move(key)};
        reply r = co_await client->exec(std::move(args));
        if (r.type == reply::kind::string) co_return std::move(r.str);
    } catch (const std::exception&) {
    }
    co_return std::nullopt;
}

}  // namespace ssehub::redis
