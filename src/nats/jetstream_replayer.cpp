// nats_jetstream_replayer: stream reads on the replay threads.
#include "ssehub/nats/jetstream_replayer.hpp"

#include "link.hpp"

#include "ssehub/event_codec.hpp"

#include <asio/async_result.hpp>
#include <asio/use_awaitable.hpp>

#include <charconv>
#include <optional>
#include <system_error>

namespace ssehub::nats {

namespace detail {

struct replayer_state {
    std::shared_ptr<link> l;
    jetstream_replayer_config cfg;
    std::mutex mu;
    std::optional<nats_subscriber> live;  // mu
};

namespace {

[[noreturn]] void fail(std::errc e, const std::string& what) {
    throw std::system_error(std::make_error_code(e), "nats replay: " + what);
}

std::optional<std::uint64_t> sequence_of(std::string_view id) {
    std::uint64_t v = 0;
    if (id.empty() || id.size() > 20) return std::nullopt;
    const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
    if (ec != std::errc() || end != id.data() + id.size()) return std::nullopt;
    return v;
}

struct msg_guard {
    natsMsg* m = nullptr;
    ~msg_guard() { natsMsg_Destroy(m); }
};
struct sub_guard {
    natsSubscription* s = nullptr;
    ~sub_guard() {
        if (!s) return;
        natsSubscription_Unsubscribe(s);  // the ordered consumer is the library's own: it goes with it
        natsSubscription_Destroy(s);
    }
};

// Blocking: the events after sequence `after` for one connection.
replay_result read(const replayer_state& st, std::uint64_t after, const std::vector<std::string>& patterns,
                   const metadata& meta, std::size_t max_events) {
    const auto& l = st.l;
    const auto& j = l->opts.jetstream;
    std::shared_lock users(l->use_mu);  // nc and js stay alive (close waits)
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    {
        std::lock_guard lock(l->mu);
        if (!l->closing) {
            nc = l->nc;
            js = l->js;
        }
    }
    if (!nc || !js || natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED) fail(std::errc::connection_refused, "not connected");
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = st.cfg.wait.count();

    replay_result out;
    jsStreamInfo* si = nullptr;
    jsErrCode jerr{};
    natsStatus s = js_GetStreamInfo(&si, js, j.stream.c_str(), &jo, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) return out;  // no stream: nothing is known
    if (s != NATS_OK) fail(std::errc::io_error, std::string("stream info: ") + natsStatus_GetText(s));
    const std::uint64_t first = si->State.FirstSeq;
    const std::uint64_t last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    // Known: every event after it is still in the stream (it may itself be gone).
    if (after == 0 || after + 1 < first || after > last) return out;
    out.known = true;
    if (after == last) return out;

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = j.stream.c_str();
    so.Ordered = true;
    so.Config.OptStartSeq = after + 1;
    sub_guard sub;
    jerr = {};
    s = js_SubscribeSync(&sub.s, js, ">", &jo, &so, &jerr);
    if (s != NATS_OK) fail(std::errc::io_error, std::string("consumer: ") + natsStatus_GetText(s));
    const std::int64_t now = unix_ms();
    std::size_t scanned = 0;
    for (;;) {
        msg_guard m;
        s = natsSubscription_NextMsg(&m.m, sub.s, st.cfg.wait.count());
        if (s != NATS_OK) fail(s == NATS_TIMEOUT ? std::errc::timed_out : std::errc::io_error,
                               std::string("next message: ") + natsStatus_GetText(s));
        jsMsgMetaData* md = nullptr;
        if (natsMsg_GetMetaData(&md, m.m) != NATS_OK) fail(std::errc::io_error, "a message without metadata");
        const std::uint64_t seq = md->Sequence.Stream;
        const std::uint64_t pending = md->NumPending;
        jsMsgMetaData_Destroy(md);
        ++scanned;
        const char* d = natsMsg_GetData(m.m);
        const std::string_view json(d ? d : "", d ? static_cast<std::size_t>(natsMsg_GetDataLength(m.m)) : 0);
        if (auto e = replay_entry(json, std::to_string(seq), now, patterns, meta, st.cfg.transform)) {
            if (out.events.size() == max_events) {
                out.truncated = true;
                break;
            }
            out.events.push_back(std::move(*e));
        }
        // Up to the last message when the read began: what follows comes live.
        if (seq >= last || pending == 0) break;
        if (scanned >= st.cfg.max_scan) {
            out.truncated = true;
            break;
        }
    }
    return out;
}

}  // namespace
}  // namespace detail

nats_jetstream_replayer::nats_jetstream_replayer(nats_options o, jetstream_replayer_config cfg)
    : st_(std::make_shared<detail::replayer_state>()) {
    o.jetstream.enabled = true;
    st_->l = std::make_shared<detail::link>();
    st_->l->opts = std::move(o);
    st_->l->counters = std::make_shared<nats_counters>();
    st_->cfg = std::move(cfg);
    detail::connect_in_background(st_->l);  // a failure: replays fail (the clients resync)
}

nats_jetstream_replayer::~nats_jetstream_replayer() {
    if (st_) detail::close_in_background(st_->l);  // else moved from
}

void nats_jetstream_replayer::follow(nats_subscriber live) {
    std::lock_guard lock(st_->mu);
    st_->live = std::move(live);
}

const nats_counters& nats_jetstream_replayer::counters() const noexcept { return *st_->l->counters; }

asio::awaitable<void> nats_jetstream_replayer::async_store(stored_event) { co_return; }

asio::awaitable<replay_result> nats_jetstream_replayer::async_replay(std::string_view last_id_view,
                                                                     const std::vector<std::string>& patterns_ref,
                                                                     const metadata& meta_ref, std::size_t max_events) {
    // Copies: the caller's arguments need only live until the first suspension.
    auto st = st_;
    const auto after = detail::sequence_of(last_id_view);
    if (!after) co_return replay_result{};
    std::vector<std::string> patterns = patterns_ref;
    metadata meta = meta_ref;
    auto& c = *st->l->counters;
    c.replays.fetch_add(1, std::memory_order_relaxed);
    std::optional<nats_subscriber> live;
    {
        std::lock_guard lock(st->mu);
        live = st->live;
    }
    if (live) {
        const bool ok = co_await live->async_subscribed(patterns, st->cfg.wait);
        if (!ok) {
            c.replay_errors.fetch_add(1, std::memory_order_relaxed);
            detail::fail(std::errc::timed_out, "the live subscriptions were not confirmed");
        }
    }
    auto start = [st, seq = *after, max_events](auto handler, std::vector<std::string> pats, metadata m) {
        auto work = asio::make_work_guard(asio::get_associated_executor(handler));
        asio::post(detail::replay_pool(), [st, seq, max_events, pats = std::move(pats), m = std::move(m),
                                           h = std::move(handler), work = std::move(work)]() mutable {
            std::exception_ptr e;
            replay_result r;
            try {
                r = detail::read(*st, seq, pats, m, max_events);
            } catch (...) {
                st->l->counters->replay_errors.fetch_add(1, std::memory_order_relaxed);
                e = std::current_exception();
            }
            detail::post_back(std::move(work), [h = std::move(h), e, r = std::move(r)]() mutable { std::move(h)(e, std::move(r)); });
        });
    };
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, replay_result)>(
        std::move(start), asio::use_awaitable, std::move(patterns), std::move(meta));
}

}  // namespace ssehub::nats
