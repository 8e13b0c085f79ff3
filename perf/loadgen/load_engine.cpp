#include "load_engine.hpp"

// g++ 12 with -fsanitize=thread inlines Asio's coroutine frame allocation
// (awaitable_frame_base::operator new) into the caller and then reports the
// class's own operator delete as mismatched: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <functional>
#include <stdexcept>
#include <utility>

#include "http_response.hpp"
#include "ssehub/sse_parser.hpp"

namespace ssehub::bench {
namespace {

using clock_type = std::chrono::steady_clock;

std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count());
}

// One writer per counter: a plain load and store instead of a locked add.
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline std::uint64_t get(const std::atomic<std::uint64_t>& c) noexcept { return c.load(std::memory_order_relaxed); }

std::string topic_name(const engine_config& cfg, std::size_t t) { return cfg.topic_prefix + std::to_string(t); }

std::string host_header(const url& u) {
    const bool v6 = u.host.find(':') != std::string::npos;
    return (v6 ? "[" + u.host + "]" : u.host) + ":" + std::to_string(u.port);
}

void log_exception(const char* what, std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "ssehub_bench: %s: %s\n", what, ex.what());
    }
}

}  // namespace

// ---------------------------------------------------------------------------

struct load_engine::worker {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
    std::thread thread;
    std::array<char, 64 * 1024> buf{};  // shared by this worker's subscribers for synchronous draining reads
    std::vector<std::unique_ptr<subscriber>> subs;
    std::size_t next_to_connect = 0;
    std::size_t in_flight = 0;                    // connection attempts not yet answered
    std::size_t connect_limit = 0;
    std::function<void(std::size_t)> start_one;  // starts subs[j]'s connection

    std::atomic<std::uint64_t> connected{0}, failed{0}, disconnects{0}, delivered{0}, other_events{0}, reordered{0},
        seq_gaps{0}, bytes{0};
    latency_histogram latency_us;

    void connect_more();
};

struct load_engine::subscriber {
    worker& w;
    std::uint32_t topic;
    asio::ip::tcp::socket sock;
    std::string request;  // freed once sent
    std::string head;     // response head so far; freed once parsed
    sse_parser parser;
    chunked_decoder chunks;
    std::uint64_t next_seq = 0;
    std::uint64_t read_ns = 0;  // time of the current read, for latency
    std::array<char, 2048> small{};  // one wake-up's worth of events, usually
    std::atomic<std::uint64_t> received{0};
    enum class state : std::uint8_t { idle, connecting, head, streaming, closed } st = state::idle;
    bool chunked = false;

    subscriber(worker& wk, std::uint32_t t) : w(wk), topic(t), sock(wk.io) {}

    void connect(const asio::ip::tcp::endpoint& ep, const asio::ip::address* source) {
        std::error_code ec;
        sock.open(ep.protocol(), ec);
        if (!ec && source) {
#ifdef IP_BIND_ADDRESS_NO_PORT
            // Choose the port at connect time, unique per 4-tuple, so each source
            // address gives its own ~28k ephemeral ports.
            const int one = 1;
            ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
            sock.bind(asio::ip::tcp::endpoint(*source, 0), ec);
        }
        if (ec) return fail(false);
        st = state::connecting;
        sock.async_connect(ep, [this](std::error_code e) { on_connected(e); });
    }

    void on_connected(std::error_code ec) {
        if (ec) return fail(false);
        sock.non_blocking(true, ec);
        sock.set_option(asio::ip::tcp::no_delay(true), ec);
        const std::size_t n = sock.write_some(asio::buffer(request), ec);
        if (ec || n != request.size()) return fail(false);  // a fresh socket takes a small request whole
        std::string().swap(request);
        st = state::head;
        arm();
    }

    // Reads into the connection's small buffer: Asio then tries the read at
    // once and re-arms epoll only when the socket is empty (an async_wait would
    // cost an epoll_ctl per wake-up). A full small buffer means there may be
    // more: drain it through the worker's large buffer without waiting.
    void arm() {
        sock.async_read_some(asio::buffer(small), [this](std::error_code ec, std::size_t n) { on_read(ec, n); });
    }

    void on_read(std::error_code ec, std::size_t n) {
        if (ec) return end_stream();
        read_ns = now_ns();
        bump(w.bytes, n);
        if (!consume(std::string_view(small.data(), n))) return fail(st == state::streaming);
        if (n == small.size()) {
            for (;;) {
                const std::size_t m = sock.read_some(asio::buffer(w.buf), ec);
                if (ec == asio::error::would_block || ec == asio::error::try_again) break;
                if (ec) return end_stream();
                bump(w.bytes, m);
                if (!consume(std::string_view(w.buf.data(), m))) return fail(st == state::streaming);
                if (m < w.buf.size()) break;
            }
        }
        arm();
    }

    // False on a protocol error.
    bool consume(std::string_view bytes) {
        if (st == state::head) {
            head.append(bytes);
            response_head rh;
            const std::size_t used = parse_response_head(head, rh);
            if (used == 0) return true;
            if (used == std::string_view::npos || rh.status != 200) return false;
            st = state::streaming;
            chunked = rh.chunked;
            bump(w.connected);
            w.in_flight--;
            w.connect_more();
            std::string body = head.substr(used);
            std::string().swap(head);
            return feed(body);
        }
        return feed(bytes);
    }

    bool feed(std::string_view body) {
        auto on_event = [this](const parsed_event& ev) { on_event_(ev); };
        if (!chunked) {
            parser.feed(body, on_event);
        } else {
            chunks.feed(body, [&](std::string_view d) { parser.feed(d, on_event); });
            if (chunks.failed()) return false;
        }
        return !parser.failed();
    }

    void on_event_(const parsed_event& ev) {
        const auto p = parse_payload(ev.data);
        if (!p) {
            bump(w.other_events);
            return;
        }
        if (p->seq > next_seq) bump(w.seq_gaps, p->seq - next_seq);
        if (p->seq != next_seq) bump(w.reordered);
        next_seq = p->seq + 1;
        bump(received);
        bump(w.delivered);
        w.latency_us.record(read_ns > p->ts_ns ? (read_ns - p->ts_ns) / 1000 : 0);
    }

    void fail(bool was_streaming) {
        if (was_streaming) {
            bump(w.disconnects);
        } else if (st != state::closed) {
            bump(w.failed);
            w.in_flight--;
            w.connect_more();
        }
        st = state::closed;
        close();
    }

    void end_stream() {
        if (st == state::closed) return;
        fail(st == state::streaming);
    }

    void close() {
        std::error_code ec;
        if (!sock.is_open()) return;
        // RST instead of FIN: no TIME_WAIT left on this side between runs.
        sock.set_option(asio::socket_base::linger(true, 0), ec);
        sock.close(ec);
        st = state::closed;
    }
};

// Starts connection attempts up to the concurrency limit. Runs on the worker.
void load_engine::worker::connect_more() {
    while (in_flight < connect_limit && next_to_connect < subs.size()) {
        ++in_flight;
        start_one(next_to_connect++);
    }
}

// ---------------------------------------------------------------------------

struct load_engine::publisher_pool {
    load_engine& eng;
    asio::io_context& io;
    // Owned by io's thread:
    std::vector<std::unique_ptr<asio::steady_timer>> wakes;
    std::size_t rr = 0;                      // next topic
    std::vector<std::uint64_t> topic_seq;    // next sequence number per topic
    double rate = 0;
    std::size_t window = 16;
    clock_type::time_point begin{}, end{};
    std::uint64_t scheduled = 0;             // rate mode: publishes due so far
    std::uint64_t taken = 0;
    std::uint64_t delivered_base = 0;        // delivered counter at the step start (max mode)
    std::uint64_t expected_base = 0;
    std::size_t busy = 0;
    bool running = false;
    // Read from any thread:
    std::atomic<std::uint64_t> published{0}, accepted{0}, rejected{0}, errors{0}, expected{0};

    publisher_pool(load_engine& e, asio::io_context& ctx) : eng(e), io(ctx), topic_seq(e.cfg_.topics, 0) {}

    std::uint64_t delivered_total() const {
        std::uint64_t n = 0;
        for (const auto& w : eng.workers_) n += get(w->delivered);
        return n;
    }

    // Picks the next publish to send, or nothing now.
    bool take() {
        if (!running) return false;
        const auto now = clock_type::now();
        if (now >= end) return false;
        if (rate > 0) {
            const double elapsed = std::chrono::duration<double>(now - begin).count();
            scheduled = std::max<std::uint64_t>(scheduled, static_cast<std::uint64_t>(elapsed * rate) + 1);
            if (taken >= scheduled) return false;
        } else {
            const double per_event = static_cast<double>(eng.cfg_.subscribers) / static_cast<double>(eng.cfg_.topics);
            const std::uint64_t owed = get(expected) - expected_base;
            const std::uint64_t got = delivered_total() - delivered_base;
            const double undelivered = owed > got ? static_cast<double>(owed - got) : 0.0;
            if (undelivered + static_cast<double>(busy) * per_event >= static_cast<double>(window) * per_event)
                return false;
        }
        ++taken;
        return true;
    }

    void wake_all() {
        for (auto& t : wakes) t->cancel();
    }

    void start(double r, std::chrono::milliseconds duration, std::size_t win) {
        rate = r;
        window = std::max<std::size_t>(1, win);
        begin = clock_type::now();
        end = begin + duration;
        scheduled = 0;
        taken = 0;
        delivered_base = delivered_total();
        expected_base = get(expected);
        running = true;
        if (wakes.empty()) {
            for (std::size_t i = 0; i < eng.cfg_.publishers; ++i) {
                wakes.push_back(std::make_unique<asio::steady_timer>(io));
                asio::co_spawn(io, publisher(i), [](std::exception_ptr e) { log_exception("publisher", e); });
            }
        }
        asio::co_spawn(io, ticker(), [](std::exception_ptr e) { log_exception("publish ticker", e); });
    }

    // Wakes the publishers every millisecond while the step runs, then ends it
    // once no publish is in flight.
    asio::awaitable<void> ticker() {
        asio::steady_timer t(io);
        while (clock_type::now() < end) {
            wake_all();
            t.expires_after(std::chrono::milliseconds(1));
            co_await t.async_wait(asio::use_awaitable);
        }
        while (busy > 0) {
            t.expires_after(std::chrono::milliseconds(1));
            co_await t.async_wait(asio::use_awaitable);
        }
        running = false;
        eng.publishing_.store(false, std::memory_order_release);
    }

    asio::awaitable<void> publisher(std::size_t index) {
        const engine_config& cfg = eng.cfg_;
        asio::ip::tcp::socket sock(io);
        std::string req, body, in;
        std::array<char, 4096> buf{};
        for (;;) {
            if (!take()) {
                std::error_code ec;
                wakes[index]->expires_at(asio::steady_timer::time_point::max());
                co_await wakes[index]->async_wait(asio::redirect_error(asio::use_awaitable, ec));
                continue;
            }
            ++busy;
            const std::size_t t = rr++ % cfg.topics;
            const std::string topic = topic_name(cfg, t);
            std::error_code ec;
            bool sent = false;
            if (!sock.is_open()) {
                co_await sock.async_connect(eng.pub_ep_, asio::redirect_error(asio::use_awaitable, ec));
                if (!ec) sock.set_option(asio::ip::tcp::no_delay(true), ec);
            }
            if (!ec) {
                const std::uint64_t seq = topic_seq[t]++;
                std::string payload;
                append_payload(payload, seq, now_ns(), cfg.payload_bytes);
                body = expand(cfg.pub_body, topic, payload);
                req = "POST " + expand(cfg.pub_url.target, topic) + " HTTP/1.1\r\nHost: " + host_header(cfg.pub_url) +
                      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
                for (const auto& h : cfg.pub_headers) req += h + "\r\n";
                req += "\r\n";
                req += body;
                // The owed deliveries count from the send, so max mode never runs ahead.
                bump(expected, eng.subs_per_topic_[t]);
                bump(published);
                sent = true;
                co_await asio::async_write(sock, asio::buffer(req), asio::redirect_error(asio::use_awaitable, ec));
            }
            int status = 0;
            bool keep_alive = false;
            if (!ec) {
                // Read one response: head, then Content-Length bytes or a chunked body or until EOF.
                in.clear();
                response_head rh;
                std::size_t head_len = 0;
                chunked_decoder chunks;
                std::size_t body_seen = 0;
                bool done = false;
                while (!done) {
                    const std::size_t n =
                        co_await sock.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
                    if (ec) {
                        if (ec == asio::error::eof && head_len != 0 && !rh.content_length && !rh.chunked) {
                            ec = {};
                            done = true;
                        }
                        break;
                    }
                    std::string_view fresh(buf.data(), n);
                    if (head_len == 0) {
                        in.append(fresh);
                        head_len = parse_response_head(in, rh);
                        if (head_len == std::string_view::npos) {
                            ec = asio::error::invalid_argument;
                            break;
                        }
                        if (head_len == 0) continue;
                        fresh = std::string_view(in).substr(head_len);
                        if (!rh.chunked && !rh.content_length && rh.keep_alive) rh.content_length = 0;
                    }
                    if (rh.chunked) {
                        chunks.feed(fresh, [](std::string_view) {});
                        if (chunks.failed()) ec = asio::error::invalid_argument;
                        done = chunks.done() || chunks.failed();
                    } else if (rh.content_length) {
                        body_seen += fresh.size();
                        done = body_seen >= *rh.content_length;
                    }
                }
                status = rh.status;
                keep_alive = rh.keep_alive;
            }
            if (!ec && status >= 200 && status < 300) {
                bump(accepted);
                eng.accepted_per_topic_[t].fetch_add(1, std::memory_order_relaxed);
            } else {
                bump(ec ? errors : rejected);
                // Nothing will arrive for this one (as far as we know): take it off the owed deliveries.
                if (sent) expected.store(get(expected) - eng.subs_per_topic_[t], std::memory_order_relaxed);
            }
            if (ec || !keep_alive) {
                std::error_code ignore;
                sock.close(ignore);
            }
            --busy;
        }
    }
};

// ---------------------------------------------------------------------------

load_engine::load_engine(engine_config cfg) : cfg_(std::move(cfg)) {
    if (cfg_.threads == 0) cfg_.threads = 1;
    if (cfg_.topics == 0) cfg_.topics = 1;
    topic_of_.resize(cfg_.subscribers);
    subs_per_topic_.assign(cfg_.topics, 0);
    for (std::size_t i = 0; i < cfg_.subscribers; ++i) {
        topic_of_[i] = static_cast<std::uint32_t>(i % cfg_.topics);
        ++subs_per_topic_[topic_of_[i]];
    }
    accepted_per_topic_ = std::make_unique<std::atomic<std::uint64_t>[]>(cfg_.topics);
}

load_engine::~load_engine() { stop(); }

void load_engine::start() {
    asio::io_context io;
    asio::ip::tcp::resolver r(io);
    sub_ep_ = *r.resolve(cfg_.sub_url.host, std::to_string(cfg_.sub_url.port)).begin();
    pub_ep_ = *r.resolve(cfg_.pub_url.host, std::to_string(cfg_.pub_url.port)).begin();
    for (std::size_t i = 0; i < cfg_.threads; ++i) workers_.push_back(std::make_unique<worker>());
    pool_ = std::make_unique<publisher_pool>(*this, workers_[0]->io);
    for (std::size_t i = 0; i < cfg_.subscribers; ++i) {
        worker& w = *workers_[i % workers_.size()];
        auto s = std::make_unique<subscriber>(w, topic_of_[i]);
        const std::string topic = topic_name(cfg_, topic_of_[i]);
        s->request = "GET " + expand(cfg_.sub_url.target, topic) + " HTTP/1.1\r\nHost: " + host_header(cfg_.sub_url) +
                     "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
        w.subs.push_back(std::move(s));
    }
    for (auto& w : workers_) {
        worker* wp = w.get();
        wp->thread = std::thread([wp] { wp->io.run(); });
    }
    started_ = true;
}

void load_engine::connect_all() {
    const bool loopback_v4 = sub_ep_.address().is_v4() && sub_ep_.address().is_loopback();
    std::vector<asio::ip::address> sources;
    if (loopback_v4)
        for (std::size_t i = 0; i < cfg_.source_addrs && i < 250; ++i)
            sources.push_back(asio::ip::make_address_v4(0x7f000002u + static_cast<std::uint32_t>(i)));
    for (std::size_t wi = 0; wi < workers_.size(); ++wi) {
        worker* w = workers_[wi].get();
        asio::post(w->io, [this, w, wi, sources] {
            // Subscriber j of this worker is global subscriber j * threads + wi.
            auto start_one = [this, w, wi, sources](std::size_t j) {
                const std::size_t global = j * workers_.size() + wi;
                const asio::ip::address* src = sources.empty() ? nullptr : &sources[global % sources.size()];
                w->subs[j]->connect(sub_ep_, src);
            };
            w->connect_limit = std::max<std::size_t>(1, cfg_.connect_concurrency);
            w->start_one = start_one;
            w->connect_more();
        });
    }
}

void load_engine::start_publishing(double rate, std::chrono::milliseconds duration, std::size_t window) {
    publishing_.store(true, std::memory_order_release);
    asio::post(workers_[0]->io, [this, rate, duration, window] { pool_->start(rate, duration, window); });
}

void load_engine::stop() {
    if (!started_) return;
    started_ = false;
    for (auto& w : workers_) {
        worker* wp = w.get();
        asio::post(wp->io, [wp] {
            for (auto& s : wp->subs) s->close();
            wp->io.stop();  // also ends the publisher coroutines, whose frames are destroyed with io
        });
    }
    for (auto& w : workers_)
        if (w->thread.joinable()) w->thread.join();
    // The publisher pool's timers and coroutine frames belong to worker 0's io_context.
    for (auto& w : workers_) w->io.restart();
    pool_.reset();
}

engine_sample load_engine::sample() const {
    engine_sample s;
    for (const auto& w : workers_) {
        s.connected += get(w->connected);
        s.failed += get(w->failed);
        s.disconnects += get(w->disconnects);
        s.delivered += get(w->delivered);
        s.other_events += get(w->other_events);
        s.reordered += get(w->reordered);
        s.seq_gaps += get(w->seq_gaps);
        s.bytes += get(w->bytes);
        w->latency_us.add_to(s.latency_us);
    }
    if (pool_) {
        s.published = get(pool_->published);
        s.accepted = get(pool_->accepted);
        s.rejected = get(pool_->rejected);
        s.publish_errors = get(pool_->errors);
        s.expected = get(pool_->expected);
    }
    return s;
}

load_engine::counts load_engine::per_subscriber_counts() const {
    counts c;
    c.received.assign(cfg_.subscribers, 0);
    for (std::size_t wi = 0; wi < workers_.size(); ++wi)
        for (std::size_t j = 0; j < workers_[wi]->subs.size(); ++j)
            c.received[j * workers_.size() + wi] = get(workers_[wi]->subs[j]->received);
    c.accepted.resize(cfg_.topics);
    for (std::size_t t = 0; t < cfg_.topics; ++t) c.accepted[t] = accepted_per_topic_[t].load(std::memory_order_relaxed);
    return c;
}

std::uint64_t load_engine::lost_between(const counts& before, const counts& after,
                                        const std::vector<std::uint32_t>& topic_of) {
    std::uint64_t lost = 0;
    for (std::size_t i = 0; i < topic_of.size() && i < after.received.size(); ++i) {
        const std::uint32_t t = topic_of[i];
        const std::uint64_t owed = after.accepted[t] - before.accepted[t];
        const std::uint64_t got = after.received[i] - before.received[i];
        if (owed > got) lost += owed - got;
    }
    return lost;
}

}  // namespace ssehub::bench
