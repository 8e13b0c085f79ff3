// ssehub::h2: the server session on nghttp2 and its streams. Everything here
// runs on the session's strand; the streams' public operations post to it.
#include "ssehub/h2/session.hpp"

#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/strand.hpp>
#include <asio/post.hpp>

#include "ssehub/detail/any_stream.hpp"
#include "ssehub/token_bucket.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ssehub::h2 {

namespace detail {

struct stream_state {
    stream_state(std::shared_ptr<session> s, std::int32_t stream_id)
        : sess(std::move(s)), io(sess->io_executor()), strand(sess->get_executor()), id(stream_id) {}

    std::shared_ptr<session> sess;  // null once the stream closed (breaks the cycle with the session's map)
    const asio::any_io_executor io;
    const asio::any_io_executor strand;
    const std::int32_t id;
    asio::ip::tcp::endpoint remote;
    std::atomic<std::uint64_t> serials{0};

    // The request, until the handler takes it (take_request): an event
    // stream then keeps only what its response needs.
    struct request_part {
        http::request req;
        std::string body;
        std::string authority;
        std::size_t header_bytes = 0;
        bool head_too_large = false;
    };
    std::unique_ptr<request_part> in = std::make_unique<request_part>();
    std::chrono::steady_clock::time_point opened_at = std::chrono::steady_clock::now();
    bool dispatched = false;
    bool abort_request = false;  // answered before the request ended: RST_STREAM (NO_ERROR) after the answer

    // The response.
    bool head_sent = false;
    bool ending = false;       // END_STREAM after what is buffered
    bool closed = false;       // close() was called
    bool done = false;         // nghttp2 closed the stream (or the connection ended)
    std::uint32_t peer_error = 0;
    std::string out;           // DATA not yet taken by nghttp2
    std::size_t out_pos = 0;
    std::unique_ptr<io_op> read_op;
    std::unique_ptr<io_op> write_op;
    std::vector<asio::const_buffer> write_bufs;

    std::size_t buffered() const noexcept { return out.size() - out_pos; }
};

}  // namespace detail

using detail::stream_state;

struct session::impl {
    explicit impl(const server_config& cfg)
        : resets(static_cast<double>(cfg.rapid_reset_rate), static_cast<double>(cfg.rapid_reset_burst),
                 token_bucket::clock::now()) {}
    std::map<std::int32_t, std::shared_ptr<stream_state>> streams;
    token_bucket resets;  // RST_STREAMs from the client (rapid reset)
    asio::steady_timer::time_point idle_deadline = asio::steady_timer::time_point::max();
    bool transport_closed = false;
    bool fatal = false;
};

namespace {

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

void complete(std::unique_ptr<detail::io_op>& op, std::error_code ec, std::size_t n = 0) {
    if (!op) return;
    auto o = std::move(op);
    o->complete(ec, n);
}

// Appends what the send buffer (at most `limit` bytes) has room for; returns how much.
std::size_t append_to_out(stream_state& st, std::span<const asio::const_buffer> bufs, std::size_t limit) {
    const std::size_t room = limit > st.buffered() ? limit - st.buffered() : 0;
    if (room == 0) return 0;
    if (st.out_pos > 0 && st.out_pos == st.out.size()) {
        st.out.clear();
        st.out_pos = 0;
    }
    std::size_t taken = 0;
    for (const auto& b : bufs) {
        if (taken == room) break;
        const std::size_t n = std::min(b.size(), room - taken);
        st.out.append(static_cast<const char*>(b.data()), n);
        taken += n;
    }
    return taken;
}

// Moves what the pending write has room for into the send buffer and completes it.
void fill_from_pending_write(stream_state& st, std::size_t limit) {
    if (!st.write_op) return;
    if (limit <= st.buffered()) return;
    const std::size_t taken = append_to_out(st, st.write_bufs, limit);
    st.write_bufs.clear();
    complete(st.write_op, {}, taken);
}

ssize_t read_data(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* flags,
                  nghttp2_data_source* source, void*) {
    auto& st = *static_cast<stream_state*>(source->ptr);
    const std::size_t n = std::min(length, st.buffered());
    if (n > 0) {
        std::memcpy(buf, st.out.data() + st.out_pos, n);
        st.out_pos += n;
        if (st.out_pos == st.out.size()) {
            st.out.clear();
            st.out_pos = 0;
        }
        if (st.sess) fill_from_pending_write(st, st.sess->config().stream_buffer);
    }
    if (st.buffered() == 0 && !st.write_op) {
        if (st.ending) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return static_cast<ssize_t>(n);
        }
        if (n == 0) return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(n);
}

bool hop_by_hop(std::string_view lower) {
    return lower == "connection" || lower == "keep-alive" || lower == "transfer-encoding" || lower == "upgrade" ||
           lower == "proxy-connection";
}

// A strand of the io_context's own executor when it is one: it fits
// any_io_executor's small buffer (no allocation per copy), and a stream's
// code can ask it whether it runs there (try_write).
asio::any_io_executor make_session_strand(const asio::any_io_executor& io) {
    if (const auto* ioc = ssehub::detail::executor_target<asio::io_context::executor_type>(io))
        return asio::make_strand(*ioc);
    return asio::make_strand(io);
}

}  // namespace

// ---- the nghttp2 callbacks ----

struct callbacks {
    static session& of(void* user_data) { return *static_cast<session*>(user_data); }

    static stream_state* stream_of(nghttp2_session* ng, std::int32_t id) {
        return static_cast<stream_state*>(nghttp2_session_get_stream_user_data(ng, id));
    }

    static int on_begin_headers(nghttp2_session* ng, const nghttp2_frame* frame, void* user_data) {
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
        session& s = of(user_data);
        auto st = std::make_shared<stream_state>(s.shared_from_this(), frame->hd.stream_id);
        st->remote = s.remote_;
        nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st.get());
        s.impl_->streams.emplace(frame->hd.stream_id, std::move(st));
        s.open_.fetch_add(1, std::memory_order_relaxed);
        s.arm_idle();
        return 0;
    }

    static int on_header(nghttp2_session* ng, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                         const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* user_data) {
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
        stream_state* st = stream_of(ng, frame->hd.stream_id);
        if (!st || !st->in || st->in->head_too_large) return 0;
        auto& in = *st->in;
        in.header_bytes += namelen + valuelen + 32;
        if (in.header_bytes > of(user_data).cfg_.max_header_list_size) {
            in.head_too_large = true;  // answered with 431 once the head is over
            in.req.headers.clear();
            return 0;
        }
        const std::string_view n(reinterpret_cast<const char*>(name), namelen);
        std::string v(reinterpret_cast<const char*>(value), valuelen);
        if (n == ":method") in.req.method = std::move(v);
        else if (n == ":path") in.req.target = std::move(v);
        else if (n == ":authority") in.authority = std::move(v);
        else if (!n.empty() && n[0] != ':') in.req.headers.push_back({std::string(n), std::move(v)});
        return 0;
    }

    static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t len,
                             void* user_data) {
        session& s = of(user_data);
        const auto it = s.impl_->streams.find(id);
        if (it == s.impl_->streams.end()) return 0;
        stream_state& st = *it->second;
        if (st.dispatched || !st.in) return 0;  // answered already (413), or handed over
        std::string& body = st.in->body;
        if (body.size() + len > s.cfg_.max_request_body) {
            st.dispatched = true;
            body.clear();
            s.respond(st, 413, "request body over " + std::to_string(s.cfg_.max_request_body) + " bytes");
            return 0;
        }
        body.append(reinterpret_cast<const char*>(data), len);
        return 0;
    }

    static int on_frame_recv(nghttp2_session* ng, const nghttp2_frame* frame, void* user_data) {
        if (frame->hd.type == NGHTTP2_RST_STREAM) {
            // Rapid reset (CVE-2023-44487): streams opened and cancelled
            // faster than the bucket refills end the connection.
            if (!of(user_data).impl_->resets.try_take(token_bucket::clock::now()).granted)
                nghttp2_session_terminate_session(ng, NGHTTP2_ENHANCE_YOUR_CALM);
            return 0;
        }
        if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
        if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
        session& s = of(user_data);
        const auto it = s.impl_->streams.find(frame->hd.stream_id);
        if (it == s.impl_->streams.end()) return 0;
        s.dispatch(it->second);
        return 0;
    }

    static int on_frame_send(nghttp2_session* ng, const nghttp2_frame* frame, void*) {
        if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
        stream_state* st = stream_of(ng, frame->hd.stream_id);
        if (st && st->abort_request && nghttp2_session_get_stream_remote_close(ng, frame->hd.stream_id) == 0)
            nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
        return 0;
    }

    static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t error_code, void* user_data) {
        session& s = of(user_data);
        const auto it = s.impl_->streams.find(id);
        if (it == s.impl_->streams.end()) return 0;
        auto st = std::move(it->second);
        s.impl_->streams.erase(it);
        st->done = true;
        st->peer_error = error_code;
        complete(st->read_op, error_code == NGHTTP2_NO_ERROR ? std::error_code(asio::error::eof)
                                                             : std::error_code(asio::error::connection_reset));
        st->write_bufs.clear();
        complete(st->write_op, asio::error::broken_pipe);
        st->sess.reset();
        s.open_.fetch_sub(1, std::memory_order_relaxed);
        s.arm_idle();
        return 0;
    }
};

// ---- session ----

std::shared_ptr<session> session::create(const asio::any_io_executor& io, server_config cfg, asio::ip::tcp::endpoint remote,
                                         handler on_stream) {
    std::shared_ptr<session> s(new session(io, std::move(cfg), std::move(remote), std::move(on_stream)));
    s->start();
    return s;
}

session::session(const asio::any_io_executor& io, server_config cfg, asio::ip::tcp::endpoint remote, handler on_stream)
    : io_(io),
      strand_(make_session_strand(io)),
      cfg_(std::move(cfg)),
      remote_(std::move(remote)),
      on_stream_(std::move(on_stream)),
      impl_(std::make_unique<impl>(cfg_)),
      wake_(strand_),
      idle_(strand_) {}

session::~session() {
    if (ng_) nghttp2_session_del(ng_);
}

void session::start() {
    nghttp2_session_callbacks* cbs = nullptr;
    if (nghttp2_session_callbacks_new(&cbs) != 0) throw std::bad_alloc();
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &callbacks::on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &callbacks::on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &callbacks::on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &callbacks::on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &callbacks::on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &callbacks::on_frame_send);
    nghttp2_option* opt = nullptr;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        throw std::bad_alloc();
    }
    const int rv = nghttp2_session_server_new2(&ng_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) throw std::bad_alloc();
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg_.max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, cfg_.max_header_list_size},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    asio::post(strand_, [self = shared_from_this()] { self->arm_idle(); });
}

void session::shutdown() {
    asio::post(strand_, [self = shared_from_this()] {
        if (self->impl_->transport_closed) return;
        nghttp2_submit_goaway(self->ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(self->ng_),
                              NGHTTP2_NO_ERROR, nullptr, 0);
        self->notify();
    });
}

bool session::receive(std::span<const char> bytes) {
    if (impl_->transport_closed || impl_->fatal) return false;
    const auto rv = nghttp2_session_mem_recv(ng_, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    if (rv < 0) {
        // Not HTTP/2 at all (a bad preface), or a callback failed: GOAWAY, then close.
        nghttp2_session_terminate_session(ng_, rv == NGHTTP2_ERR_CALLBACK_FAILURE ? NGHTTP2_INTERNAL_ERROR
                                                                                  : NGHTTP2_PROTOCOL_ERROR);
        impl_->fatal = true;
        return false;
    }
    return nghttp2_session_want_read(ng_) != 0;
}

void session::take_output(std::string& out, std::size_t max) {
    if (impl_->transport_closed) return;
    while (out.size() < max) {
        const std::uint8_t* data = nullptr;
        const auto n = nghttp2_session_mem_send(ng_, &data);
        if (n < 0) {
            impl_->fatal = true;
            return;
        }
        if (n == 0) return;
        out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
}

bool session::alive() const {
    if (impl_->transport_closed) return false;
    if (impl_->fatal) return nghttp2_session_want_write(ng_) != 0;
    return nghttp2_session_want_read(ng_) != 0 || nghttp2_session_want_write(ng_) != 0;
}

bool session::alive_transport() const { return !impl_->transport_closed; }

void session::transport_closed() {
    if (impl_->transport_closed) return;
    impl_->transport_closed = true;
    auto streams = std::move(impl_->streams);
    impl_->streams.clear();
    for (auto& [id, st] : streams) {
        st->done = true;
        complete(st->read_op, asio::error::eof);
        st->write_bufs.clear();
        complete(st->write_op, asio::error::broken_pipe);
        st->sess.reset();
        open_.fetch_sub(1, std::memory_order_relaxed);
    }
    wake_.cancel();
    idle_.cancel();
}

void session::notify() { wake_.cancel(); }

void session::arm_idle() {
    if (impl_->transport_closed) return;
    impl_->idle_deadline = open_.load(std::memory_order_relaxed) == 0 && cfg_.idle_timeout.count() > 0
                               ? asio::steady_timer::clock_type::now() + cfg_.idle_timeout
                               : asio::steady_timer::time_point::max();
    arm_timer();
}

// The timer wakes at the earliest of the idle deadline and the requests' deadlines.
void session::arm_timer() {
    auto due = impl_->idle_deadline;
    if (cfg_.request_timeout.count() > 0)
        for (const auto& [id, st] : impl_->streams)
            if (!st->dispatched) due = std::min(due, st->opened_at + cfg_.request_timeout);
    idle_.expires_at(due);
}

void session::on_idle_timer() {
    if (impl_->transport_closed) return;
    const auto now = asio::steady_timer::clock_type::now();
    if (idle_.expiry() > now) return;  // re-armed meanwhile
    if (open_.load(std::memory_order_relaxed) == 0 && impl_->idle_deadline <= now) {
        nghttp2_session_terminate_session(ng_, NGHTTP2_NO_ERROR);
        idle_.expires_at(asio::steady_timer::time_point::max());
        notify();
        return;
    }
    // A request whose head and body did not all arrive in time (slowloris): 408.
    for (const auto& [id, st] : impl_->streams) {
        if (st->dispatched || cfg_.request_timeout.count() == 0 || st->opened_at + cfg_.request_timeout > now) continue;
        st->dispatched = true;
        opened_.fetch_add(1, std::memory_order_relaxed);
        respond(*st, 408, "request not received in time");
    }
    arm_timer();
}

void session::dispatch(const std::shared_ptr<stream_state>& st) {
    if (st->dispatched) return;
    st->dispatched = true;
    opened_.fetch_add(1, std::memory_order_relaxed);
    if (!st->in || st->in->head_too_large) {
        respond(*st, 431, "request header fields too large");
        return;
    }
    http::request& req = st->in->req;
    req.version_minor = 1;
    req.remote = endpoint_text(remote_);
    const std::string& authority = st->in->authority;
    if (!authority.empty() && !req.find("host")) req.headers.insert(req.headers.begin(), {"host", authority});
    if (req.method.empty() || req.target.empty() || req.target[0] != '/') {
        respond(*st, 400, "bad request");  // CONNECT, or an absolute/asterisk target we do not serve
        return;
    }
    try {
        on_stream_(stream(st));
    } catch (...) {
        reset(*st, NGHTTP2_INTERNAL_ERROR);
    }
}

void session::respond(stream_state& st, int status, std::string body) {
    st.abort_request = true;  // what the client still sends is not wanted (RFC 9113 8.1)
    send_head(st, status, {{"content-type", "text/plain; charset=utf-8"}, {"content-length", std::to_string(body.size())}});
    st.out = std::move(body);
    st.out_pos = 0;
    st.ending = true;
    resume(st);
}

void session::send_head(stream_state& st, int status, const std::vector<http::header>& headers) {
    if (st.head_sent || st.done || st.closed || impl_->transport_closed) return;
    st.head_sent = true;
    const std::string status_text = std::to_string(status);
    std::vector<std::pair<std::string, std::string_view>> fields;  // lower-case names
    fields.reserve(headers.size());
    for (const auto& h : headers) {
        std::string lower = h.name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
        if (!lower.empty() && !hop_by_hop(lower)) fields.emplace_back(std::move(lower), h.value);
    }
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size() + 1);
    auto nv = [](std::string_view n, std::string_view v) {
        return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                          reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                          NGHTTP2_NV_FLAG_NONE};
    };
    nva.push_back(nv(":status", status_text));
    for (const auto& [n, v] : fields) nva.push_back(nv(n, v));
    nghttp2_data_provider prd;
    prd.source.ptr = &st;
    prd.read_callback = &read_data;
    // nghttp2 copies the name/value pairs.
    if (nghttp2_submit_response(ng_, st.id, nva.data(), nva.size(), &prd) != 0) reset(st, NGHTTP2_INTERNAL_ERROR);
    notify();
}

void session::resume(stream_state& st) {
    if (st.head_sent && !st.done && !impl_->transport_closed) nghttp2_session_resume_data(ng_, st.id);
    notify();
}

void session::reset(stream_state& st, std::uint32_t error_code) {
    if (st.done || impl_->transport_closed) return;
    nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, st.id, error_code);
    notify();
}

// ---- the streams' operations, on the strand ----

namespace detail {

std::uint64_t next_serial(stream_state& s) noexcept { return s.serials.fetch_add(1, std::memory_order_relaxed) + 1; }
asio::any_io_executor io_executor(const stream_state& s) noexcept { return s.io; }

void start_read(const std::shared_ptr<stream_state>& s, std::unique_ptr<io_op> op) {
    asio::post(s->strand, [s, op = std::move(op)]() mutable {
        if (s->closed) return op->complete(asio::error::bad_descriptor, 0);
        if (s->done) {
            return op->complete(s->peer_error == NGHTTP2_NO_ERROR ? std::error_code(asio::error::eof)
                                                                  : std::error_code(asio::error::connection_reset),
                                0);
        }
        if (s->read_op) return op->complete(asio::error::already_started, 0);
        s->read_op = std::move(op);
    });
}

void start_write(const std::shared_ptr<stream_state>& s, std::vector<asio::const_buffer> bufs, std::unique_ptr<io_op> op) {
    asio::post(s->strand, [s, bufs = std::move(bufs), op = std::move(op)]() mutable {
        if (s->closed) return op->complete(asio::error::bad_descriptor, 0);
        if (s->done || !s->sess || s->ending) return op->complete(asio::error::broken_pipe, 0);
        if (!s->head_sent) return op->complete(asio::error::invalid_argument, 0);
        if (asio::buffer_size(bufs) == 0) return op->complete({}, 0);
        if (s->write_op) return op->complete(asio::error::already_started, 0);
        s->write_op = std::move(op);
        s->write_bufs = std::move(bufs);
        fill_from_pending_write(*s, s->sess->config().stream_buffer);  // completes it when there is room
        s->sess->resume(*s);
    });
}

std::size_t try_write(stream_state& s, std::span<const asio::const_buffer> bufs, std::error_code& ec) {
    ec = {};
    using strand_type = asio::strand<asio::io_context::executor_type>;
    const auto* strand = ssehub::detail::executor_target<strand_type>(s.strand);
    if (!strand || !strand->running_in_this_thread()) return 0;
    if (s.closed || s.done || !s.sess || s.ending || !s.head_sent || s.write_op) return 0;
    const std::size_t taken = append_to_out(s, bufs, s.sess->config().stream_buffer);
    if (taken > 0) s.sess->resume(s);
    return taken;
}

void cancel_op(const std::weak_ptr<stream_state>& w, bool write, std::uint64_t serial) {
    auto s = w.lock();
    if (!s) return;
    asio::post(s->strand, [s, write, serial] {
        auto& op = write ? s->write_op : s->read_op;
        if (!op || op->serial != serial) return;
        if (write) s->write_bufs.clear();
        complete(op, asio::error::operation_aborted);
    });
}

}  // namespace detail

// ---- stream ----

stream& stream::operator=(stream&& o) noexcept {
    if (this != &o) {
        std::error_code ec;
        close(ec);
        s_ = std::move(o.s_);
    }
    return *this;
}

stream::~stream() {
    std::error_code ec;
    close(ec);
}

stream::executor_type stream::get_executor() const noexcept { return s_->strand; }
std::int32_t stream::id() const noexcept { return s_->id; }
const http::request& stream::request() const noexcept {
    static const http::request taken;
    return s_->in ? s_->in->req : taken;
}
std::string& stream::body() noexcept {
    static thread_local std::string taken;
    taken.clear();
    return s_->in ? s_->in->body : taken;
}
http::request stream::take_request() noexcept {
    if (!s_->in) return {};
    http::request r = std::move(s_->in->req);
    s_->in.reset();  // the body goes too: take it first
    return r;
}

void stream::send_head(int status, const std::vector<http::header>& headers) {
    asio::post(s_->strand, [s = s_, status, headers] {
        if (s->sess) s->sess->send_head(*s, status, headers);
    });
}

void stream::shutdown(asio::socket_base::shutdown_type what, std::error_code& ec) {
    ec = {};
    if (!s_ || what == asio::socket_base::shutdown_receive) return;
    asio::post(s_->strand, [s = s_] {
        if (s->ending || s->closed) return;
        s->ending = true;
        if (!s->sess) return;
        if (!s->head_sent) s->sess->reset(*s, NGHTTP2_INTERNAL_ERROR);  // ended without a response
        else s->sess->resume(*s);
    });
}

void stream::close(std::error_code& ec) {
    ec = {};
    if (!s_) return;
    asio::post(s_->strand, [s = s_] {
        if (s->closed) return;
        s->closed = true;
        complete(s->read_op, asio::error::operation_aborted);
        s->write_bufs.clear();
        complete(s->write_op, asio::error::operation_aborted);
        if (s->sess && !(s->head_sent && s->ending)) s->sess->reset(*s, NGHTTP2_CANCEL);
    });
}

asio::ip::tcp::endpoint stream::remote_endpoint(std::error_code& ec) const {
    ec = {};
    return s_->remote;
}

}  // namespace ssehub::h2
