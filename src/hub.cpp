#include "connection/run.hpp"
#include "hub/sequencer.hpp"

#include "ssehub/topic.hpp"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <random>
#include <unordered_set>
#include <utility>

namespace ssehub {
namespace detail {

void report_exception(const logger& log, const char* where, std::exception_ptr e) noexcept {
    if (!e || !log.enabled(logger::level::error)) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        try {
            log.log(logger::level::error, std::string(where) + ": " + ex.what());
        } catch (...) {  // no memory for the message
        }
    } catch (...) {
        try {
            log.log(logger::level::error, std::string(where) + ": unknown exception");
        } catch (...) {
        }
    }
}

std::string random_connection_id() {
    thread_local std::random_device rd;
    static constexpr char hex[] = "0123456789abcdef";
    std::string id(32, '0');
    for (int word = 0; word < 4; ++word) {
        std::uint32_t v = rd();
        for (int k = 0; k < 8; ++k) {
            id[word * 8 + k] = hex[v & 0xF];
            v >>= 4;
        }
    }
    return id;
}

}  // namespace detail

hub::hub(asio::any_io_executor ex, hub_config cfg)
    : hub(std::vector<asio::any_io_executor>(std::max<std::size_t>(1, cfg.shards), ex), std::move(cfg)) {}

hub::hub(std::vector<asio::any_io_executor> executors, hub_config cfg) {
    if (executors.empty()) throw std::invalid_argument("ssehub::hub: no executor");
    cfg.shards = executors.size();
    auto total_active = std::make_shared<std::atomic<std::size_t>>(0);
    for (const auto& ex : executors) shards_.push_back(std::make_shared<detail::shard>(ex, cfg, total_active));
    seq_ = std::make_shared<detail::sequencer>(executors[0], std::move(cfg), shards_);
    for (auto& s : shards_) s->seq = seq_;
    // Streams find their shard by executor only when each shard has its own.
    for (std::size_t i = 0; i < executors.size(); ++i)
        for (std::size_t j = i + 1; j < executors.size(); ++j)
            if (executors[i] == executors[j]) match_executor_ = false;
    seq_->start();
}

hub::~hub() {
    if (!seq_->stopped.load()) seq_->request_stop();
}

const hub_config& hub::config() const noexcept { return seq_->cfg; }

asio::any_io_executor hub::get_executor() const noexcept { return seq_->strand; }

namespace {
// With presence events on, "$presence." topics are the hub's own.
bool reserved(const hub_config& cfg, const event& ev) {
    if (!cfg.presence_events) return false;
    return std::any_of(ev.topics.begin(), ev.topics.end(),
                       [](const std::string& t) { return t.starts_with(presence_topic_prefix); });
}
}  // namespace

std::error_code hub::publish(event ev) {
    if (reserved(seq_->cfg, ev)) return error::invalid_topic;
    return seq_->submit(std::move(ev), {});
}

std::error_code hub::clear_retained(std::string topic) { return seq_->submit_clear(std::move(topic)); }

void hub::enqueue(event ev, detail::publish_completion done) {
    // submit() only stores `done` on success; on a refusal it is still ours.
    auto keep = std::make_shared<detail::publish_completion>(std::move(done));
    if (reserved(seq_->cfg, ev)) return (*keep)(error::invalid_topic, {});
    auto ec = seq_->submit(std::move(ev), [keep](std::error_code e, publish_result r) { (*keep)(e, std::move(r)); });
    if (ec) (*keep)(ec, {});
}

asio::awaitable<publish_result> hub::async_publish(event ev) {
    co_return co_await async_publish(std::move(ev), asio::use_awaitable);
}

std::shared_ptr<detail::shard> hub::shard_for(const asio::any_io_executor& ex) {
    if (shards_.size() == 1) return shards_[0];
    // The shard on the stream's own executor (one io_context per core), else
    // the next one round-robin.
    if (match_executor_) {
        // (A stream on a strand, as an HTTP/2 stream is: the strand's context.)
        using strand_type = asio::strand<asio::io_context::executor_type>;
        const auto* strand = detail::executor_target<strand_type>(ex);
        const asio::any_io_executor io = strand ? asio::any_io_executor(strand->get_inner_executor()) : ex;
        for (const auto& s : shards_)
            if (s->strand.get_inner_executor() == io) return s;
    }
    return shards_[next_shard_.fetch_add(1, std::memory_order_relaxed) % shards_.size()];
}

asio::awaitable<void> hub::serve(std::unique_ptr<detail::any_stream> stream, std::optional<http::request> request) {
    // Not a coroutine: no frame of its own stays alive beside the connection's.
    auto args = std::make_unique<detail::serve_args>();
    args->request = std::move(request);
    auto shard = shard_for(stream->get_executor());
    return detail::run_connection<void>(std::move(shard), std::move(stream), std::move(args));
}

bool hub::set_paused(std::string_view connection_id, bool paused) {
    auto [shard, c] = detail::find_connection(shards_, connection_id);
    if (!c) return false;
    asio::post(shard->strand, [shard, c, paused] { shard->set_paused(c, paused); });
    return true;
}

std::uint64_t hub::watch_interest(std::string topic, std::function<void()> on_first, std::function<void()> on_last) {
    if (!topic::is_valid_subject(topic, seq_->cfg.max_topic_length) || seq_->stopped.load()) return 0;
    const std::uint64_t id = seq_->next_watch.fetch_add(1, std::memory_order_relaxed) + 1;
    asio::post(seq_->strand, [seq = seq_, id, topic = std::move(topic), on_first = std::move(on_first),
                              on_last = std::move(on_last)]() mutable {
        seq->watch(id, std::move(topic), std::move(on_first), std::move(on_last));
    });
    return id;
}

std::uint64_t hub::watch_patterns(std::function<void(const std::string&, bool)> on_change) {
    if (seq_->stopped.load()) return 0;
    const std::uint64_t id = seq_->next_watch.fetch_add(1, std::memory_order_relaxed) + 1;
    asio::post(seq_->strand, [seq = seq_, id, fn = std::move(on_change)]() mutable { seq->watch_patterns(id, std::move(fn)); });
    return id;
}

void hub::unwatch_interest(std::uint64_t id) {
    asio::post(seq_->strand, [seq = seq_, id] { seq->unwatch(id); });
}

bool hub::spawn(asio::any_io_executor ex, asio::awaitable<void> task) {
    return seq_->background.spawn(ex, std::move(task));
}

asio::awaitable<void> hub::async_shutdown(std::chrono::milliseconds grace) {
    co_await asio::co_spawn(seq_->strand, seq_->shutdown(grace), asio::use_awaitable);
}

void hub::start_shutdown(std::chrono::milliseconds grace, std::function<void(std::error_code)> done) {
    asio::co_spawn(seq_->strand, seq_->shutdown(grace), [seq = seq_, done = std::move(done)](std::exception_ptr e) {
        seq->report_exception("hub shutdown", e);
        done(std::error_code{});
    });
}

hub_stats hub::stats(bool with_connections, std::size_t max_topics, std::size_t max_tenants) const {
    hub_stats s;
    s.events_published = seq_->published.load();
    s.events_rejected = seq_->rejected.load();
    s.events_expired = seq_->expired.load();
    if (const auto n = seq_->replay_events.load(std::memory_order_relaxed); n >= 0)
        s.replay_events = static_cast<std::size_t>(n);
    std::unordered_map<std::string, std::size_t> per_topic, per_tenant;
    for (const auto& shard : shards_) {
        const auto& im = *shard;
        s.active_connections += im.active.load();
        s.connections_total += im.connections_total.load();
        s.events_expired += im.expired.load();
        s.events_dropped += im.dropped.load();
        s.slow_consumer_disconnects += im.slow_disconnects.load();
        s.paused_connections += im.paused_count.load();
        s.dropped_queue_full += im.dropped_queue_full.load();
        s.dropped_lane_cap += im.dropped_lane_cap.load();
        s.dropped_paused += im.dropped_paused.load();
        s.events_delivered += im.delivered.load();
        s.events_replayed += im.replayed.load();
        for (std::size_t i = 0; i < s.latency_counts.size(); ++i) s.latency_counts[i] += im.latency[i].load();
        s.latency_sum_us += im.latency_sum_us.load();
        std::lock_guard lock(im.registry_mutex);
        for (const auto& c : im.slots) {
            if (!c) continue;
            const std::size_t queued = c->queue.size();
            s.queued_frames += queued;
            s.max_queue_fill =
                std::max(s.max_queue_fill, static_cast<double>(queued) / static_cast<double>(im.cfg.send_queue));
            if (max_topics)
                for (const auto& t : c->topics()) ++per_topic[t];
            if (max_tenants)
                if (auto t = c->metadata().find("tenant_id"); t != c->metadata().end()) ++per_tenant[t->second];
            if (with_connections)
                s.connections.push_back({c->id(), c->sent(), c->dropped(), c->topics(),
                                         c->paused_shown.load(std::memory_order_relaxed)});
        }
    }
    // The largest first (ties by name), at most `max` of them.
    auto ranked = [](std::unordered_map<std::string, std::size_t>& counts, std::size_t max,
                     std::vector<std::pair<std::string, std::size_t>>& out) {
        out.assign(counts.begin(), counts.end());
        std::sort(out.begin(), out.end(),
                  [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
        if (out.size() > max) out.resize(max);
    };
    if (max_topics) ranked(per_topic, max_topics, s.topic_connections);
    if (max_tenants) ranked(per_tenant, max_tenants, s.tenant_connections);
    return s;
}

std::size_t hub::shard_count() const noexcept { return shards_.size(); }

void hub::on_shutdown(std::function<void()> fn) {
    asio::post(seq_->strand, [seq = seq_, fn = std::move(fn)]() mutable { seq->on_shutdown(std::move(fn)); });
}

}  // namespace ssehub
