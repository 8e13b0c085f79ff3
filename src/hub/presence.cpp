// Presence: each shard answers from its own indexes on its strand (the
// members of one subscribed pattern, or of the smallest metadata pair), the
// hub merges the answers; and the join/leave events of
// hub_config::presence_events.
#include "hub/sequencer.hpp"

#include "ssehub/json.hpp"
#include "ssehub/topic.hpp"

#include <asio/co_spawn.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <limits>
#include <utility>

namespace ssehub::detail {

template <class F>
void shard::for_each_member(const presence_filter& filter, F&& f) {
    auto visit = [&](conn_slot s) {
        const auto& c = slots[s];
        if (filter.match.empty() || group_index::matches(c->metadata(), filter.match)) f(c);
    };
    if (!filter.topic.empty()) {
        if (const slot_set* m = subscriptions.members(filter.topic))
            for (conn_slot s : m->slots()) visit(s);
    } else if (!filter.match.empty()) {
        groups.for_each_candidate(filter.match, visit);
    } else {
        for (const auto& c : slots)
            if (c) f(c);
    }
}

shard::presence_part shard::presence(const presence_query& q, std::size_t keep) {
    presence_part part;
    if (keep == 0 && q.filter.match.empty() && !q.filter.topic.empty()) {  // a count: the member set's size
        const slot_set* m = subscriptions.members(q.filter.topic);
        part.total = m ? m->size() : 0;
        return part;
    }
    // The `keep` smallest ids past q.after, in a max-heap: memory for the
    // page, not for every member.
    auto by_id = [](const connection_impl* a, const connection_impl* b) { return a->id() < b->id(); };
    std::vector<const connection_impl*> heap;
    for_each_member(q.filter, [&](const std::shared_ptr<connection_impl>& c) {
        ++part.total;
        if (!q.after.empty() && c->id() <= q.after) return;
        ++part.after;
        if (keep == 0) return;
        if (heap.size() == keep) {
            if (!by_id(c.get(), heap.front())) return;
            std::pop_heap(heap.begin(), heap.end(), by_id);
            heap.back() = c.get();
        } else {
            heap.push_back(c.get());
        }
        std::push_heap(heap.begin(), heap.end(), by_id);
    });
    std::sort_heap(heap.begin(), heap.end(), by_id);
    part.entries.reserve(heap.size());
    for (const connection_impl* c : heap)
        part.entries.push_back({c->id(), c->metadata(), c->topics(),
                                std::chrono::system_clock::time_point(std::chrono::seconds(c->connected_s))});
    return part;
}

std::size_t shard::disconnect_matching(const presence_filter& f, const frame& bye) {
    std::vector<std::shared_ptr<connection_impl>> hit;
    for_each_member(f, [&](const std::shared_ptr<connection_impl>& c) {
        if (!c->state.ending()) hit.push_back(c);
    });
    for (const auto& c : hit) disconnect(c, bye);
    return hit.size();
}

void shard::publish_presence(const connection_impl& c, std::string_view type) {
    auto sq = seq.lock();
    if (!sq) return;
    for (const auto& t : c.topics()) {
        if (topic::has_wildcard(t) || t.starts_with(presence_topic_prefix)) continue;
        event ev;
        ev.topics.push_back(std::string(presence_topic_prefix) + t);
        ev.type = std::string(type);
        ev.data = "{\"topic\":";
        json::append_string(ev.data, t);
        ev.data += ",\"id\":";
        json::append_string(ev.data, c.id());
        ev.data += ",\"metadata\":{";
        bool first = true;
        for (const auto& [k, v] : c.metadata()) {
            if (!first) ev.data += ',';
            first = false;
            json::append_string(ev.data, k);
            ev.data += ':';
            json::append_string(ev.data, v);
        }
        ev.data += "},\"connected_at\":" + std::to_string(c.connected_s) + '}';
        // Refused (intake full, stopping, a topic too long for the prefix):
        // lost like any refused publish; presence queries stay exact.
        (void)sq->submit(std::move(ev), {});
    }
}

namespace {

std::error_code check(const presence_filter& f, const hub_config& cfg) {
    if (!f.topic.empty() && !topic::is_valid_pattern(f.topic, cfg.max_topic_length)) return error::invalid_topic;
    return {};
}

asio::awaitable<shard::presence_part> presence_on(std::shared_ptr<shard> s, presence_query q, std::size_t keep) {
    co_return s->presence(q, keep);
}

// Each shard's part on its strand, one after the other, merged by id.
asio::awaitable<presence_page> gather(std::vector<std::shared_ptr<shard>> shards, presence_query q,
                                      std::size_t limit) {
    const std::size_t keep = q.offset > std::numeric_limits<std::size_t>::max() - limit
                                 ? std::numeric_limits<std::size_t>::max()
                                 : q.offset + limit;
    presence_page page;
    std::size_t after = 0;
    for (const auto& s : shards) {
        auto part = co_await asio::co_spawn(s->strand, presence_on(s, q, keep), asio::use_awaitable);
        page.total += part.total;
        after += part.after;
        for (auto& e : part.entries) page.entries.push_back(std::move(e));
    }
    std::sort(page.entries.begin(), page.entries.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    const std::size_t skip = std::min(q.offset, page.entries.size());
    page.entries.erase(page.entries.begin(), page.entries.begin() + static_cast<std::ptrdiff_t>(skip));
    if (page.entries.size() > limit) page.entries.resize(limit);
    if (after > keep && !page.entries.empty()) page.next = page.entries.back().id;
    co_return page;
}

asio::awaitable<std::size_t> count_on(std::shared_ptr<shard> s, presence_filter f, frame bye) {
    if (bye) co_return s->disconnect_matching(f, bye);
    co_return s->presence(presence_query{std::move(f), 0, 0, {}}, 0).total;
}

asio::awaitable<std::size_t> gather_count(std::vector<std::shared_ptr<shard>> shards, presence_filter f, frame bye) {
    std::size_t n = 0;
    for (const auto& s : shards) n += co_await asio::co_spawn(s->strand, count_on(s, f, bye), asio::use_awaitable);
    co_return n;
}

}  // namespace
}  // namespace ssehub::detail

namespace ssehub {

void hub::start_presence(presence_query q, detail::presence_completion done) {
    if (auto ec = detail::check(q.filter, seq_->cfg)) return done(ec, {});
    const std::size_t limit = std::min(q.limit, seq_->cfg.max_presence_page);
    asio::co_spawn(seq_->strand, detail::gather(shards_, std::move(q), limit),
                   [seq = seq_, done = std::move(done)](std::exception_ptr e, presence_page page) {
                       seq->report_exception("presence", e);
                       done(e ? std::make_error_code(std::errc::not_enough_memory) : std::error_code{}, std::move(page));
                   });
}

void hub::start_count(presence_filter filter, std::optional<std::string> reason, detail::count_completion done) {
    if (auto ec = detail::check(filter, seq_->cfg)) return done(ec, 0);
    frame bye;
    if (reason) {
        if (filter.topic.empty() && filter.match.empty()) return done({}, 0);  // never "everyone"
        bye = detail::reason_frame("disconnect", *reason);
    }
    asio::co_spawn(seq_->strand, detail::gather_count(shards_, std::move(filter), std::move(bye)),
                   [seq = seq_, done = std::move(done)](std::exception_ptr e, std::size_t n) {
                       seq->report_exception("presence", e);
                       done(e ? std::make_error_code(std::errc::not_enough_memory) : std::error_code{}, n);
                   });
}

asio::awaitable<presence_page> hub::async_presence(presence_query q) {
    co_return co_await async_presence(std::move(q), asio::use_awaitable);
}

asio::awaitable<std::size_t> hub::async_presence_count(std::string topic) {
    co_return co_await async_presence_count(std::move(topic), asio::use_awaitable);
}

asio::awaitable<std::size_t> hub::async_disconnect(presence_filter filter, std::string reason) {
    co_return co_await async_disconnect(std::move(filter), std::move(reason), asio::use_awaitable);
}

}  // namespace ssehub
