// The connection body: request head, on_connect, registration, then one
// writer coroutine draining the bounded queue and one reader watching for EOF.
// g++ 12 inlines Asio's awaitable frame allocation into prepare_connection
// and then reports the frame class's own operator delete as mismatched: a
// false positive (as in examples/ssehubd/routes.cpp and perf/loadgen).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "connection/run.hpp"

#include "ssehub/http_read.hpp"
#include "ssehub/json.hpp"
#include "ssehub/topic.hpp"
#include "ssehub/url_topic.hpp"

#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution/blocking.hpp>
#include <asio/execution/context.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/io_context.hpp>
#include <asio/query.hpp>
#include <asio/require.hpp>
#include <asio/strand.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/version.hpp>

#include <algorithm>
#include <array>

namespace ssehub::detail {
namespace {

constexpr std::size_t max_gather = 32;  // frames per gathered write

// http::async_read_request's loop over the erased stream.
asio::awaitable<std::size_t> read_some_any(void* s, asio::mutable_buffer buf, std::error_code& ec) {
    return static_cast<any_stream*>(s)->read_some(buf, ec);
}

// Answers with an error and closes; records the outcome (serve_args::outcome).
// `extra`: headers of this answer (Allow, Retry-After), written before the
// caller's serve_options::headers.
asio::awaitable<void> refuse(any_stream& stream, serve_args& args, int status, std::string_view body,
                             serve_reason why, std::vector<http::header> extra) {
    args.outcome.reason = why;
    args.outcome.status = status;
    if (args.outcome.detail.empty()) args.outcome.detail = std::string(body);
    extra.insert(extra.end(), args.options.headers.begin(), args.options.headers.end());
    std::string response;
    if (stream.sends_head()) {  // HTTP/2: the head as a HEADERS frame, then the body alone
        stream.send_head(status, http::response_fields(status, "text/plain; charset=utf-8", body.size(), extra));
        if (!http::bodiless(status)) response = body;
    } else {
        response = http::make_response(status, "text/plain; charset=utf-8", body, extra, true);
    }
    std::error_code ec;
    const asio::const_buffer b = asio::buffer(response);
    co_await stream.write(std::span(&b, 1), ec);
    if (stream.has_goodbye()) co_await stream.goodbye(args.goodbye_timeout);  // TLS: close_notify
    stream.shutdown_send();
    stream.close();
}

asio::awaitable<void> refuse(any_stream& stream, serve_args& args, int status, std::string_view body,
                             serve_reason why = serve_reason::rejected) {
    return refuse(stream, args, status, body, why, std::vector<http::header>());
}

std::vector<http::header> retry_after(const hub_config& cfg) {
    std::vector<http::header> h(1);
    h[0].name = "Retry-After";
    h[0].value = std::to_string(std::max<long long>(1, (cfg.retry.count() + 999) / 1000));
    return h;
}

std::vector<http::header> stream_fields(const std::vector<http::header>& extra) {
    std::vector<http::header> h{{"Content-Type", "text/event-stream"},
                                {"Cache-Control", "no-cache"},
                                {"Connection", "keep-alive"},
                                {"X-Accel-Buffering", "no"}};
    h.insert(h.end(), extra.begin(), extra.end());  // checked by prepare_connection (valid_headers)
    return h;
}

// The response head (unless the stream sends it itself: HTTP/2) and the first event.
std::string stream_head(any_stream& stream, const connection_impl& c, std::chrono::milliseconds retry,
                        const std::vector<http::header>& extra, const std::string& resume_id) {
    std::string head;
    if (stream.sends_head()) {
        stream.send_head(200, stream_fields(extra));
    } else {
        head = "HTTP/1.1 200 OK\r\n";
        for (const auto& h : stream_fields(extra)) {
            head += h.name;
            head += ": ";
            head += h.value;
            head += "\r\n";
        }
        head += "\r\n";
    }
    head += wire::retry_field(retry);
    std::string data = "{\"connection_id\":";
    json::append_string(data, c.id());
    data += ",\"topics\":[";
    bool first = true;
    for (const auto& t : c.topics()) {
        if (!first) data += ',';
        first = false;
        json::append_string(data, t);
    }
    data += "]}";
    wire::encode(resume_id, "connected", data, std::nullopt, head);
    return head;
}

// The writer's wait for the next frame without the coroutine frame that
// use_awaitable adds per operation (about 260 bytes per idle connection, and
// an allocation plus two resumptions per receive): the handler owns the
// awaiting coroutine's thread, stores the result where the coroutine reads
// it, and resumes the coroutine that suspended itself, as asio's own
// awaitable_handler resumes the frame it pops. Relies on Asio 1.22's
// awaitable internals: with any other Asio version (or with
// SSEHUB_NO_ASIO_INTERNALS defined) the writer uses plain use_awaitable.
#if ASIO_VERSION == 102201 && !defined(SSEHUB_NO_ASIO_INTERNALS)
#define SSEHUB_RECEIVE_RESUMER 1

using awaitable_thread = asio::detail::awaitable_thread<asio::any_io_executor>;

// The executor the pending receive completes on: the connection's strand by
// reference (8 bytes instead of a 56-byte any_io_executor in every idle
// connection's pending operation), counting no outstanding work: while the
// writer waits, the EOF watch's pending read keeps the context running, and
// when that watch ends it closes the queue, which completes the receive.
class strand_ref {
public:
    explicit strand_ref(const asio::any_io_executor& s) noexcept : s_(&s) {}
    template <class F>
    void execute(F&& f) const {
        s_->execute(std::forward<F>(f));
    }
    asio::execution_context& query(asio::execution::context_t) const noexcept {
        return asio::query(*s_, asio::execution::context);
    }
    asio::any_io_executor require(asio::execution::blocking_t::never_t) const {
        return asio::require(*s_, asio::execution::blocking.never);
    }
    strand_ref prefer(asio::execution::outstanding_work_t::tracked_t) const noexcept { return *this; }
    friend bool operator==(const strand_ref& a, const strand_ref& b) noexcept { return a.s_ == b.s_; }
    friend bool operator!=(const strand_ref& a, const strand_ref& b) noexcept { return a.s_ != b.s_; }

private:
    const asio::any_io_executor* s_;
};

class receive_resumer : public asio::detail::awaitable_handler_base<asio::any_io_executor, void> {
public:
    // Its pending operation lives as long as an idle connection: an exact-size
    // allocation, not one of Asio's recycled blocks (often left by a bigger
    // operation, such as the head's write).
    using allocator_type = exact_allocator<void>;
    allocator_type get_allocator() const noexcept { return {}; }

    // Completes on the connection's strand (the coroutine's executor).
    using executor_type = strand_ref;
    executor_type get_executor() const noexcept { return strand_; }

    receive_resumer(awaitable_thread* t, const asio::any_io_executor& strand, std::error_code& ec,
                    queued_frame& out) noexcept
        : asio::detail::awaitable_handler_base<asio::any_io_executor, void>(t), strand_(strand), ec_(&ec), out_(&out) {}

    void operator()(std::error_code ec, queued_frame value) {
        *ec_ = ec;
        *out_ = std::move(value);
        // frame(): the suspended coroutine (run_connection), used only through
        // awaitable_frame_base, as Asio's own awaitable_handler does (also
        // for the entry-point frame of serve_entry).
        this->frame()->attach_thread(this);
        this->frame()->clear_cancellation_slot();
        this->pump();
    }

private:
    strand_ref strand_;
    std::error_code* ec_;
    queued_frame* out_;
};
#endif  // SSEHUB_RECEIVE_RESUMER

// The frames of one gathered write and their buffers (about 1.3 KiB):
// allocated while a connection is busy, released when its queue runs dry, so
// an idle connection's writer frame stays small.
struct gather_buffer {
    std::array<queued_frame, max_gather> batch;
    std::array<asio::const_buffer, max_gather> bufs;
};

// The frames of one write and their buffers.
struct batch {
    queued_frame* frames;
    asio::const_buffer* bufs;
    std::size_t n;
};

// After a receive: `first` alone, or (when more are queued, or were lately)
// everything queued, up to max_gather, in the gather buffer.
batch take_batch(connection_impl& c, std::unique_ptr<gather_buffer>& g, queued_frame& first, asio::const_buffer& one) {
    one = asio::buffer(*first.bytes);
    if (!g && c.queue.size() == 0) return {&first, &one, 1};
    if (!g) g = std::make_unique<gather_buffer>();
    g->batch[0] = std::move(first);
    const std::size_t n = 1 + c.queue.try_receive_some(g->batch.begin() + 1, max_gather - 1);
    for (std::size_t i = 0; i < n; ++i) g->bufs[i] = asio::buffer(*g->batch[i].bytes);
    return {g->batch.data(), g->bufs.data(), n};
}

// Writes what the stream takes at once; returns the buffers left (n == 0:
// none, or ec set), the first of them advanced past what was written.
batch write_now(any_stream& stream, const batch& b, std::error_code& ec) {
    std::size_t total = 0;
    for (std::size_t i = 0; i < b.n; ++i) total += b.bufs[i].size();
    std::size_t written = stream.try_write(std::span<const asio::const_buffer>(b.bufs, b.n), ec);
    if (ec || written == total) return {nullptr, nullptr, 0};
    batch rest = b;
    while (written >= rest.bufs->size()) {
        written -= rest.bufs->size();
        ++rest.bufs;
        --rest.n;
    }
    *rest.bufs += written;
    return rest;
}

// After a write: timing, latency and counters; releases the frames.
void written(shard& hub, connection_impl& c, const batch& b, bool head, const std::error_code& ec) {
    const std::int64_t done = now_ns();
    c.write_started_ns.store(0, std::memory_order_relaxed);
    c.last_write_ns.store(done, std::memory_order_relaxed);
    std::uint64_t events = 0;
    for (std::size_t i = 0; i < b.n; ++i) {
        if (!head && !ec && b.frames[i].published_ns != 0) {
            ++events;
            hub.observe_latency(done - b.frames[i].published_ns);
        }
        b.frames[i].bytes.reset();
    }
    if (!head && !ec) {
        c.count_sent(b.n);
        hub.delivered.fetch_add(events, std::memory_order_relaxed);
    }
}

// Watches for the client's EOF so a disconnect is noticed at once: a plain
// read callback on the connection's strand, re-armed while the client sends
// bytes (ignored). No coroutine: an idle connection's watch costs one pending
// read. connection_impl::reader_done / reader_waiter let run_connection wait
// for its end.
void reader_finished(connection_impl& c) {
    c.queue.close();
    c.stream->close();  // aborts a write in flight
    c.reader_done = true;
    if (c.reader_waiter) c.reader_waiter->cancel();
}

void watch_eof(std::shared_ptr<connection_impl> c);

void on_eof_read(std::shared_ptr<void>& owner, std::error_code ec, std::size_t) {
    auto c = std::static_pointer_cast<connection_impl>(std::move(owner));
    if (ec) {
        c->end_with(serve_reason::client_left);  // unless the hub ended it first (and closed the stream)
        reader_finished(*c);
        return;
    }
    watch_eof(std::move(c));
}

void watch_eof(std::shared_ptr<connection_impl> c) {
    connection_impl& conn = *c;
    try {
        conn.stream->async_read_some(asio::buffer(conn.eof_sink), conn.strand, read_callback{std::move(c), &on_eof_read});
    } catch (...) {
        report_exception(*conn.log, "connection reader", std::current_exception());
        reader_finished(conn);  // run_connection holds `conn` until the reader is done
    }
}

void start_reader(const std::shared_ptr<connection_impl>& c) { watch_eof(c); }

asio::awaitable<void> wait_reader(connection_impl& c) {
    if (c.reader_done) co_return;
    asio::steady_timer t(c.strand, clock::time_point::max());
    struct unset {  // also when an exception leaves: the reader must never see a dead timer
        connection_impl& c;
        ~unset() { c.reader_waiter = nullptr; }
    } guard{c};
    c.reader_waiter = &t;
    while (!c.reader_done) {
        std::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

std::vector<std::string> topics_from_request(const http::request& req, const hub_config& cfg) {
    if (cfg.topics_from_url) {
        if (auto t = url_topic(req.target, cfg.max_topic_length)) return {std::move(*t)};
        return {};
    }
    auto raw = req.query_param("topics");
    if (!raw) return {};
    return http::split_list(*raw);
}

}  // namespace

namespace {

// Takes a single-use credential (a ticket) from its store; false when
// another request took it first (or the store failed).
asio::awaitable<bool> spend_credential(const auth_outcome& auth, const logger& log) {
    try {
        co_return co_await auth.consume();
    } catch (...) {
        report_exception(log, "consume credential", std::current_exception());
    }
    co_return false;
}

// Everything up to registration: the request head, auth, on_connect, the
// checks and add_connection. Its frame (request, parser, auth outcome) is gone
// once it returns, so a long-lived stream keeps none of it. Sets `out` (a
// registered connection), or leaves it null when the request was answered and
// closed (args.outcome says how). (An out parameter, not a result:
// `auto conn = co_await prepare(...)` returning the shared_ptr crashed the
// g++ 12 Debug+TSan build with an over-released connection; this form does not.)
// `hop`: first onto the coroutine's own executor (the connection's strand),
// for a coroutine launched on the caller's thread (serve_entry); here rather
// than in run_connection, whose frame would keep the awaiter's slot.
asio::awaitable<void> prepare_connection(const std::shared_ptr<shard>& hub, std::unique_ptr<any_stream>& stream,
                                         serve_args& args, std::shared_ptr<connection_impl>& out, bool hop) {
    if (hop) co_await asio::dispatch(asio::use_awaitable);
    const hub_config& cfg = hub->cfg;
    args.outcome.remote = args.options.context.remote;  // for a refusal's outcome
    args.goodbye_timeout = cfg.write_timeout;
    // The caller's headers go into every answer: refuse bad ones before
    // anything is written (make_response checks them).
    bool bad_headers = false;
    try {
        (void)http::make_response(204, "", "", args.options.headers);
    } catch (const std::invalid_argument&) {
        report_exception(cfg.log, "serve_options::headers", std::current_exception());
        bad_headers = true;
    }
    if (bad_headers) {
        args.options.headers.clear();
        co_await refuse(*stream, args, 500, "internal error");
        co_return;
    }
    http::request req;
    if (args.request) {
        req = std::move(*args.request);
        args.request.reset();
    } else {
        http::request_parser parser(cfg.max_request_head);
        std::string rest;
        const std::error_code ec = co_await http::detail::read_request(
            http::detail::head_reader{stream.get(), &read_some_any}, parser, rest, cfg.request_head_timeout);
        if (ec) {
            const int status = http::error_status(ec, parser);
            if (status == 0) {  // the client left before a whole head: nothing to answer
                args.outcome.reason = serve_reason::client_left;
                stream->close();
                co_return;
            }
            co_await refuse(*stream, args, status, http::reason_phrase(status));
            co_return;
        }
        req = std::move(parser.get());
    }
    if (hub->stopped.load(std::memory_order_acquire)) {
        co_await refuse(*stream, args, 503, "shutting down", serve_reason::rejected, retry_after(cfg));
        co_return;
    }
    if (req.method != "GET") {
        std::vector<http::header> allow(1);  // (built here: g++ 12 rejects brace-init arrays in co_await args)
        allow[0].name = "Allow";
        allow[0].value = "GET";
        co_await refuse(*stream, args, 405, "method not allowed", serve_reason::rejected, std::move(allow));
        co_return;
    }

    auto conn = std::make_shared<connection_impl>(random_connection_id(), std::move(stream),
                                                  co_await asio::this_coro::executor, cfg.send_queue + 1);
    conn->log = &cfg.log;
    conn->direct_writes = cfg.single_thread_contexts && conn->stream->plain_try_write() &&
                          &conn->stream->get_executor().context() == &hub->strand.context();
    args.outcome.connection_id = conn->id();
    const bool has_context = !args.options.context.remote.empty() || args.options.context.user.has_value();
    if (has_context) conn->set_context(std::move(args.options.context));
    const bool has_defaults = !args.options.default_topics.empty();
    if (has_defaults) conn->set_topics(std::move(args.options.default_topics));
    if (req.remote.empty()) req.remote = args.outcome.remote;
    auth_outcome auth;
    if (cfg.authenticate) {
        try {
            auth = co_await cfg.authenticate(req);
        } catch (...) {
            report_exception(cfg.log, "authenticate", std::current_exception());
            auth.status = 401;
            auth.log_reason = "authenticator threw";
        }
        if (auth.status != 0) {
            if (cfg.on_auth_failure) cfg.on_auth_failure(req, auth.log_reason);
            args.outcome.detail = auth.log_reason;
            // 4xx as the authenticator chose (401 for anything outside 400..599);
            // 503 (a backend down or busy) and 429 tell the client when to retry.
            const int status = auth.status >= 400 && auth.status <= 599 ? auth.status : 401;
            std::string_view body = status == 401 ? "unauthorized" : status == 403 ? "forbidden" : http::reason_phrase(status);
            if (body.empty()) body = "refused";
            std::vector<http::header> extra;  // (a local: g++ 12 mishandles a conditional temporary in co_await args)
            if (status == 503 || status == 429) extra = retry_after(cfg);
            co_await refuse(*conn->stream, args, status, body, serve_reason::auth_failed, std::move(extra));
            co_return;
        }
        if (auth.expires) {  // the stream's end, on the steady clock the sweep uses
            const auto left = *auth.expires - std::chrono::system_clock::now() + cfg.auth_expiry_grace;
            conn->state.expire_at(clock::now() + std::chrono::duration_cast<clock::duration>(left));
        }
        for (auto& [k, v] : auth.metadata) conn->set_metadata(k, std::move(v));
        if (auth.topics) conn->set_topics(std::move(*auth.topics));
    }
    if (cfg.on_connect) {
        std::optional<rejection> rejected;
        try {
            rejected = cfg.on_connect(req, *conn);
        } catch (...) {
            report_exception(cfg.log, "on_connect", std::current_exception());
            rejected = rejection{500, "internal error"};
        }
        if (rejected) {
            co_await refuse(*conn->stream, args, rejected->status, rejected->body);
            co_return;
        }
    } else if (!auth.topics) {
        // Topics the request names replace the defaults; none named: the defaults stay.
        auto named = topics_from_request(req, cfg);
        if (!named.empty() || !has_defaults) conn->set_topics(std::move(named));
    }
    if (conn->topics().empty()) {
        co_await refuse(*conn->stream, args, 400, "no topics subscribed");
        co_return;
    }
    if (conn->topics().size() > cfg.max_topics_per_connection) {
        co_await refuse(*conn->stream, args, 400, "too many topics");
        co_return;
    }
    for (const auto& t : conn->topics()) {
        if (!topic::is_valid_pattern(t, cfg.max_topic_length)) {
            co_await refuse(*conn->stream, args, 400, "invalid topic");
            co_return;
        }
    }
    if (auth.allowed_topics) {
        for (const auto& t : conn->topics()) {
            const auto& allowed = *auth.allowed_topics;
            if (std::none_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return pattern_covers(a, t); })) {
                if (cfg.on_auth_failure) cfg.on_auth_failure(req, "topic not allowed: " + t);
                args.outcome.detail = "topic not allowed: " + t;
                co_await refuse(*conn->stream, args, 403, "forbidden", serve_reason::auth_failed);
                co_return;
            }
        }
    }
    // Last-Event-ID: the header beats the query parameter (for clients that cannot send headers).
    std::optional<std::string> last_id;
    if (const std::string* h = req.find("Last-Event-ID")) last_id = *h;
    else if (auto q = req.query_param("lastEventId")) last_id = std::move(*q);
    else if (auto q2 = req.query_param("lastEventID")) last_id = std::move(*q2);  // Mercure's and fibersse's spelling
    else if (auto q3 = req.query_param("last_event_id")) last_id = std::move(*q3);  // the Mercure draft's
    if (last_id) {
        conn->replay = std::make_unique<connection_impl::replay_fields>();
        // Too long or invalid: unknown (empty), which replay answers with `resync`.
        if (last_id->size() <= cfg.max_last_event_id && !wire::validate_id(*last_id))
            conn->replay->last_event_id = std::move(*last_id);
    }
    // Deduplicate (keeping the client's order) so the index holds each pattern once per connection.
    {
        auto& list = conn->topic_list();
        std::vector<std::string> unique;
        for (auto& t : list)
            if (std::find(unique.begin(), unique.end(), t) == unique.end()) unique.push_back(std::move(t));
        list = std::move(unique);
    }

    // A place among max_connections first, so that a ticket is never spent
    // on a stream the hub then refuses for room.
    std::error_code reg = hub->reserve();
    // A single-use credential (a ticket) is spent only now that every check
    // passed; of requests racing with one ticket, one gets past this point.
    if (!reg && auth.consume && !co_await spend_credential(auth, cfg.log)) {
        hub->unreserve();
        if (cfg.on_auth_failure) cfg.on_auth_failure(req, "credential already used");
        args.outcome.detail = "credential already used";
        co_await refuse(*conn->stream, args, 401, "unauthorized", serve_reason::auth_failed);
        co_return;
    }

    if (!reg) {
        auto r = co_await asio::co_spawn(hub->strand, hub->add_connection(conn), asio::use_awaitable);
        reg = r.ec;
        args.resume_id = std::move(r.resume_id);
    }
    if (reg) {
        co_await refuse(*conn->stream, args, 503,
                        reg == error::too_many_connections ? "too many connections" : "shutting down",
                        serve_reason::rejected, retry_after(cfg));
        co_return;
    }
    out = std::move(conn);
}

// After the writer: waits for the EOF watch, then unregisters.
asio::awaitable<void> close_connection(const std::shared_ptr<shard>& hub, const std::shared_ptr<connection_impl>& conn,
                                       std::exception_ptr failure) {
    co_await wait_reader(*conn);
    co_await asio::co_spawn(hub->strand, hub->remove_connection(conn), asio::use_awaitable);
    if (failure) report_exception(hub->cfg.log, "connection", failure);
}

}  // namespace

namespace {

// The caller already runs on a strand of the stream's execution context (one
// strand per connection, as ssehubd and the tests do): that strand is the
// connection's.
// (A coroutine of its own: the executor it reads stays out of run_connection's frame.)
asio::awaitable<bool> on_connection_strand(any_stream& stream) {
    const asio::any_io_executor caller = co_await asio::this_coro::executor;
    co_return (executor_target<asio::strand<asio::io_context::executor_type>>(caller) != nullptr ||
               executor_target<asio::strand<asio::any_io_executor>>(caller) != nullptr) &&
           &caller.context() == &stream.get_executor().context();
}

// The caller is not on a strand: run_connection again, on a new one.
asio::awaitable<void> serve_on_new_strand(const std::shared_ptr<shard>& hub, std::unique_ptr<any_stream>& stream,
                                          std::unique_ptr<serve_args>& args) {
    const asio::any_io_executor strand = make_connection_strand(*stream);
    co_await asio::co_spawn(strand, run_connection<void>(hub, std::move(stream), std::move(args)), asio::use_awaitable);
}

}  // namespace

// A strand of its own, converted to any_io_executor once. A strand of an
// io_context executor fits any_io_executor's small buffer, so neither this
// conversion nor the work-tracking copy each pending operation makes
// allocates (a strand<any_io_executor> does, every time).
// A stream whose executor is a strand already (an HTTP/2 stream: its
// session's) is served on that strand, so its writes need no hop.
asio::any_io_executor make_connection_strand(any_stream& stream) {
    const asio::any_io_executor io = stream.get_executor();
    if (executor_target<asio::strand<asio::io_context::executor_type>>(io)) return io;
    if (const auto* ioc = executor_target<asio::io_context::executor_type>(io)) return asio::make_strand(*ioc);
    return asio::make_strand(io);
}

// This frame lives as long as the connection (with the pending receive's), so
// everything that does not is kept out of it: the request head, auth, the
// checks and registration run in prepare_connection, the cleanup in
// close_connection (arguments by reference: no copies here), and the writer
// loop is inlined rather than a frame of its own. `args` is freed once the
// response head is built. With serve_entry this frame is the bottom of its
// Asio coroutine thread (no co_spawn frame beside it): it must let no
// exception escape, so they go to `done` as co_spawn would hand them over.
template <class R>
asio::awaitable<R> run_connection(std::shared_ptr<shard> hub, std::unique_ptr<any_stream> stream,
                                  std::unique_ptr<serve_args> args) {
    std::shared_ptr<connection_impl> conn;
    std::exception_ptr failure;
    try {
        if constexpr (std::is_void_v<R>) {
            if (!co_await on_connection_strand(*stream)) {
                co_await serve_on_new_strand(hub, stream, args);
                co_return;
            }
        }
        // serve_entry: launched from the caller's thread, so onto the
        // connection's strand first (as co_spawn's entry point does).
        co_await prepare_connection(hub, stream, *args, conn, !std::is_void_v<R>);
    } catch (...) {
        if (!args || !args->done) throw;  // awaited: the caller gets it
        failure = std::current_exception();
    }
    std::unique_ptr<serve_done> done = std::move(args->done);
    if (!conn) {
        if (done) done->complete(failure, failure ? serve_outcome{} : std::move(args->outcome));
        co_return;
    }
    connection_impl& c = *conn;
    if (args->options.on_open) {
        try {
            args->options.on_open(c);
        } catch (...) {
            report_exception(hub->cfg.log, "serve_options::on_open", std::current_exception());
        }
    }
    // Registered before the head is written: nothing published from here on is missed.
    start_reader(conn);
    try {
        // The writer: the response head, then the queue until it closes or a
        // write fails. One frame (the usual case when many connections each
        // get one event) is written from `first` itself; the gather buffer
        // exists only while more frames keep coming. (The work between the
        // suspensions is in plain functions: their locals stay out of this
        // long-lived frame.)
        std::error_code ec;
        std::unique_ptr<gather_buffer> g;
        queued_frame first{std::make_shared<const std::string>(stream_head(*c.stream, c, hub->cfg.retry, args->options.headers, args->resume_id)), 0};
        args.reset();
        asio::const_buffer one = asio::buffer(*first.bytes);
        batch b{&first, &one, 1};
        for (bool head = true;; head = false) {
            if (!head) {
                // As use_awaitable would: a cancelled coroutine starts no operation.
                if (asio::cancellation_state(co_await asio::this_coro::cancellation_state).cancelled() !=
                    asio::cancellation_type::none) {
                    c.end_with(serve_reason::disconnected);
                    break;
                }
#ifdef SSEHUB_RECEIVE_RESUMER
                // Suspends this coroutine; resumed (on its strand) by receive_resumer.
                co_await [&](auto* frame) noexcept {
                    c.queue.async_receive(receive_resumer(frame->detach_thread(), c.strand, ec, first));
                    return static_cast<awaitable_thread*>(nullptr);
                };
#else
                first = co_await c.queue.async_receive(asio::redirect_error(asio::use_awaitable, ec));
#endif
                if (ec) {
                    // Closed: lifetime over, shutdown, disconnect, or the reader
                    // saw EOF (each gave its reason); else cancelled.
                    if (ec == asio::error::operation_aborted) c.end_with(serve_reason::disconnected);
                    break;
                }
                b = take_batch(c, g, first, one);
            }
            c.write_started_ns.store(now_ns(), std::memory_order_relaxed);
            // Usually the socket takes it all at once: no operation, no
            // completion to post back through the strand, no suspension.
            const batch rest = write_now(*c.stream, b, ec);
            if (rest.n != 0) co_await c.stream->write(std::span<const asio::const_buffer>(rest.bufs, rest.n), ec);
            written(*hub, c, b, head, ec);
            if (g && c.queue.size() == 0) g.reset();  // going idle: hold no buffer while waiting
            if (ec) break;  // the client is gone, or the hub closed the stream (write timeout, slow consumer)
        }
        c.queue.close();
        // A clean end of stream for the client (TLS: close_notify first, bounded).
        if (c.stream->has_goodbye()) co_await c.stream->goodbye(hub->cfg.write_timeout);
        c.stream->shutdown_send();
        c.stream->close();  // also ends the reader
    } catch (...) {
        failure = std::current_exception();
        c.queue.close();
        c.stream->close();  // ends the reader
    }
    c.end_with(serve_reason::client_left);  // no reason given: a write failed
    // The cleanup runs even when the caller cancelled async_serve (the writer
    // has ended and closed the stream): a fresh cancellation state, or every
    // co_await below would throw operation_aborted and the connection would
    // never be unregistered.
    co_await asio::this_coro::reset_cancellation_state();
    try {
        co_await close_connection(hub, conn, std::move(failure));  // (leaves `failure` empty)
    } catch (...) {
        if (!done) throw;
        failure = std::current_exception();  // the cleanup itself failed (allocation): the handler gets it
    }
    if (done)
        done->complete(failure, failure ? serve_outcome{} : serve_outcome{c.end_reason(), 200, c.id(), {}, c.context().remote});
}

template asio::awaitable<void> run_connection<void>(std::shared_ptr<shard>, std::unique_ptr<any_stream>,
                                                    std::unique_ptr<serve_args>);
#ifdef SSEHUB_SERVE_ENTRY
template asio::awaitable<serve_entry> run_connection<serve_entry>(std::shared_ptr<shard>, std::unique_ptr<any_stream>,
                                                                  std::unique_ptr<serve_args>);
#endif

}  // namespace ssehub::detail
