#include "client.hpp"

#include <hiredis/hiredis.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <variant>

namespace ssehub::redis {

std::optional<redis_options> parse_redis_url(std::string_view url, std::string* error) {
    auto fail = [&](const char* why) -> std::optional<redis_options> {
        if (error) *error = why;
        return std::nullopt;
    };
    redis_options o;
    if (url.starts_with("redis://")) url.remove_prefix(8);
    else if (url.find("://") != std::string_view::npos) return fail("only redis:// URLs are supported");
    if (const auto at = url.rfind('@'); at != std::string_view::npos) {
        const auto cred = url.substr(0, at);
        url.remove_prefix(at + 1);
        const auto colon = cred.find(':');
        if (colon == std::string_view::npos) {
            o.password = std::string(cred);
        } else {
            o.username = std::string(cred.substr(0, colon));
            o.password = std::string(cred.substr(colon + 1));
        }
    }
    if (const auto slash = url.find('/'); slash != std::string_view::npos) {
        const auto db = url.substr(slash + 1);
        url = url.substr(0, slash);
        if (!db.empty()) {
            int n = 0;
            for (char c : db) {
                if (c < '0' || c > '9' || n > 100000) return fail("database must be a number");
                n = n * 10 + (c - '0');
            }
            o.db = n;
        }
    }
    if (const auto colon = url.rfind(':'); colon != std::string_view::npos && url.find(']') == std::string_view::npos) {
        const auto port = url.substr(colon + 1);
        url = url.substr(0, colon);
        unsigned n = 0;
        if (port.empty()) return fail("port must be a number");
        for (char c : port) {
            if (c < '0' || c > '9' || n > 65535) return fail("port must be a number");
            n = n * 10 + static_cast<unsigned>(c - '0');
        }
        if (n == 0 || n > 65535) return fail("port out of range");
        o.port = static_cast<unsigned short>(n);
    }
    if (url.starts_with('[') && url.ends_with(']')) url = url.substr(1, url.size() - 2);
    if (url.empty()) return fail("host missing");
    o.host = std::string(url);
    return o;
}

std::optional<redis_options> parse_redis_cluster(std::string_view list, std::string* error) {
    std::optional<redis_options> out;
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto item = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (item.empty()) continue;
        auto o = parse_redis_url(item, error);
        if (!o) return std::nullopt;
        if (o->db != 0) {
            if (error) *error = "a Redis Cluster has no databases (no /db)";
            return std::nullopt;
        }
        if (!out) out = *o;
        out->cluster.push_back(redis_endpoint{o->host, o->port});
    }
    if (!out && error) *error = "no host:port";
    return out;
}

namespace detail {

using namespace asio::experimental::awaitable_operators;

reply_reader::reply_reader() : r_(redisReaderCreate()) {
    if (!r_) throw std::bad_alloc();
}

reply_reader::~reply_reader() { redisReaderFree(r_); }

void reply_reader::feed(const char* data, std::size_t n) {
    if (redisReaderFeed(r_, data, n) != REDIS_OK)
        throw std::system_error(std::make_error_code(std::errc::protocol_error), "redis reply");
}

namespace {

reply convert(const redisReply* p) {
    reply r;
    switch (p->type) {
    case REDIS_REPLY_STRING: r.type = reply::kind::string; break;
    case REDIS_REPLY_STATUS: r.type = reply::kind::status; break;
    case REDIS_REPLY_ERROR: r.type = reply::kind::error; break;
    case REDIS_REPLY_INTEGER: r.type = reply::kind::integer; break;
    case REDIS_REPLY_ARRAY: r.type = reply::kind::array; break;
    default: r.type = reply::kind::nil; break;
    }
    if (p->str) r.str.assign(p->str, p->len);
    r.integer = p->integer;
    if (p->type == REDIS_REPLY_ARRAY) {
        r.elements.reserve(p->elements);
        for (std::size_t i = 0; i < p->elements; ++i) r.elements.push_back(convert(p->element[i]));
    }
    return r;
}

}  // namespace

std::optional<reply> reply_reader::next() {
    void* p = nullptr;
    if (redisReaderGetReply(r_, &p) != REDIS_OK)
        throw std::system_error(std::make_error_code(std::errc::protocol_error), "redis reply");
    if (!p) return std::nullopt;
    auto* rp = static_cast<redisReply*>(p);
    reply r = convert(rp);
    freeReplyObject(rp);
    return r;
}

std::string format_command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    char* out = nullptr;
    const int n = redisFormatCommandArgv(&out, static_cast<int>(args.size()), argv.data(), lens.data());
    if (n < 0 || !out) throw std::bad_alloc();
    std::string s(out, static_cast<std::size_t>(n));
    redisFreeCommand(out);
    return s;
}

asio::awaitable<reply> read_reply(asio::ip::tcp::socket& sock, reply_reader& reader) {
    char buf[4096];
    for (;;) {
        if (auto r = reader.next()) co_return std::move(*r);
        const std::size_t n = co_await sock.async_read_some(asio::buffer(buf), asio::use_awaitable);
        reader.feed(buf, n);
    }
}

namespace {

asio::awaitable<asio::ip::tcp::socket> connect_and_hello(const redis_options& o, reply_reader& reader) {
    auto ex = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(ex);
    const auto endpoints = co_await resolver.async_resolve(o.host, std::to_string(o.port), asio::use_awaitable);
    asio::ip::tcp::socket sock(ex);
    co_await asio::async_connect(sock, endpoints, asio::use_awaitable);
    sock.set_option(asio::ip::tcp::no_delay(true));
    std::vector<std::vector<std::string>> hello;
    if (!o.password.empty()) {
        if (o.username.empty()) hello.push_back({"AUTH", o.password});
        else hello.push_back({"AUTH", o.username, o.password});
    }
    if (o.db != 0) hello.push_back({"SELECT", std::to_string(o.db)});
    for (const auto& cmd : hello) {
        const std::string bytes = format_command(cmd);
        co_await asio::async_write(sock, asio::buffer(bytes), asio::use_awaitable);
        const reply r = co_await read_reply(sock, reader);
        if (r.is_error())
            throw std::system_error(std::make_error_code(std::errc::permission_denied), "redis " + cmd[0] + ": " + r.str);
    }
    co_return sock;
}

// A failure is a result here, not an exception: `||` below waits for the
// first *success*, so a refused connect would otherwise wait out the timer.
asio::awaitable<std::pair<std::optional<asio::ip::tcp::socket>, std::exception_ptr>> try_connect_and_hello(
    const redis_options& o, reply_reader& reader) {
    std::pair<std::optional<asio::ip::tcp::socket>, std::exception_ptr> out;
    try {
        out.first.emplace(co_await connect_and_hello(o, reader));
    } catch (...) {
        out.second = std::current_exception();
    }
    co_return out;
}

}  // namespace

asio::awaitable<asio::ip::tcp::socket> connect(const redis_options& o, reply_reader& reader) {
    if (!o.cluster.empty()) {  // any of the cluster's servers (pub/sub reaches them all)
        std::exception_ptr last;
        for (const auto& e : o.cluster) {
            redis_options one = o;
            one.cluster.clear();
            one.host = e.host;
            one.port = e.port;
            try {
                co_return co_await connect(one, reader);
            } catch (...) {
                last = std::current_exception();
            }
        }
        std::rethrow_exception(last);
    }
    asio::steady_timer timer(co_await asio::this_coro::executor, o.connect_timeout);
    auto r = co_await (try_connect_and_hello(o, reader) || timer.async_wait(asio::use_awaitable));
    if (r.index() == 1) throw std::system_error(std::make_error_code(std::errc::timed_out), "redis connect");
    auto& [sock, failure] = std::get<0>(r);
    if (failure) std::rethrow_exception(failure);
    co_return std::move(*sock);
}

// ---- command_client ----

node_client::node_client(asio::any_io_executor ex, redis_options o, std::shared_ptr<connection_counters> counters)
    : opts_(std::move(o)),
      strand_(asio::make_strand(ex)),
      counters_(counters ? std::move(counters) : std::make_shared<connection_counters>()),
      connected_signal_(strand_) {}

namespace {

asio::awaitable<std::vector<reply>> exec_op(std::shared_ptr<node_client> self, std::string bytes, std::size_t count,
                                            asio::awaitable<std::vector<reply>> (node_client::*fn)(std::string, std::size_t)) {
    co_return co_await (self.get()->*fn)(std::move(bytes), count);
}

void log_exception(const ssehub::logger& log, const char* what, std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        log.log(ssehub::logger::level::error, std::string("redis ") + what + ": " + x.what());
    } catch (...) {
    }
}

}  // namespace

asio::awaitable<reply> node_client::exec(std::vector<std::string> args) {
    std::string bytes = format_command(args);
    auto r = co_await asio::co_spawn(strand_, exec_op(shared_from_this(), std::move(bytes), 1, &node_client::exec_on_strand),
                                     asio::use_awaitable);
    co_return std::move(r.front());
}

asio::awaitable<std::vector<reply>> node_client::exec_many(std::vector<std::vector<std::string>> cmds) {
    if (cmds.empty()) co_return std::vector<reply>{};
    std::string bytes;
    for (const auto& c : cmds) bytes += format_command(c);
    co_return co_await asio::co_spawn(strand_, exec_op(shared_from_this(), std::move(bytes), cmds.size(), &node_client::exec_on_strand),
                                      asio::use_awaitable);
}

void node_client::close() {
    asio::post(strand_, [self = shared_from_this()] {
        self->fail_all(std::make_error_code(std::errc::operation_canceled));
        self->next_attempt_ = std::chrono::steady_clock::now();
    });
}

asio::awaitable<std::vector<reply>> node_client::exec_on_strand(std::string bytes, std::size_t count) {
    try {
        co_await ensure_connected();
    } catch (...) {
        counters_->command_errors.fetch_add(count, std::memory_order_relaxed);
        throw;
    }
    if (in_flight_.size() + count > opts_.max_pending) {
        counters_->command_errors.fetch_add(count, std::memory_order_relaxed);
        throw std::system_error(std::make_error_code(std::errc::no_buffer_space), "redis: too many pending commands");
    }
    std::vector<std::shared_ptr<pending>> mine;
    mine.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        mine.push_back(std::make_shared<pending>(strand_));
        in_flight_.push_back(mine.back());
    }
    outbox_ += bytes;
    if (!writing_) {
        writing_ = true;
        asio::co_spawn(strand_, writer(generation_), [log = opts_.log](std::exception_ptr e) { log_exception(log, "writer", e); });
    }
    std::vector<reply> out;
    out.reserve(count);
    for (auto& p : mine) {  // replies come in order: when one is late, the connection is failed and so are the rest
        if (!p->done) {
            p->signal.expires_after(opts_.command_timeout);
            std::error_code ec;
            co_await p->signal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        if (!p->done) {  // no reply in time: the connection is unusable (replies would be matched wrongly)
            fail_all(std::make_error_code(std::errc::timed_out));
        }
        if (p->ec) {
            counters_->command_errors.fetch_add(1, std::memory_order_relaxed);
            throw std::system_error(p->ec, "redis command");
        }
        if (p->result.is_error()) counters_->command_errors.fetch_add(1, std::memory_order_relaxed);
        out.push_back(std::move(p->result));
    }
    co_return out;
}

asio::awaitable<void> node_client::ensure_connected() {
    for (;;) {
        if (state_ == state::up) co_return;
        if (state_ == state::connecting) {
            std::error_code ec;
            co_await connected_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now < next_attempt_)
            throw std::system_error(std::make_error_code(std::errc::connection_refused), "redis unavailable (backing off)");
        state_ = state::connecting;
        connected_signal_.expires_at(std::chrono::steady_clock::time_point::max());
        counters_->connect_attempts.fetch_add(1, std::memory_order_relaxed);
        auto rd = std::make_shared<reply_reader>();
        std::exception_ptr failure;
        asio::ip::tcp::socket sock(strand_);
        try {
            sock = co_await connect(opts_, *rd);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) {
            state_ = state::down;
            counters_->connect_failures.fetch_add(1, std::memory_order_relaxed);
            const auto backoff = std::min<std::chrono::milliseconds::rep>(
                opts_.reconnect_max.count(), opts_.reconnect_initial.count() << std::min(failures_, 20u));
            ++failures_;
            next_attempt_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff);
            connected_signal_.cancel();
            std::rethrow_exception(failure);
        }
        sock_ = std::make_shared<asio::ip::tcp::socket>(std::move(sock));
        reader_ = std::move(rd);
        ++generation_;
        failures_ = 0;
        state_ = state::up;
        counters_->connected.store(true);
        asio::co_spawn(strand_, reader(generation_), [log = opts_.log](std::exception_ptr e) { log_exception(log, "reader", e); });
        connected_signal_.cancel();
    }
}

asio::awaitable<void> node_client::writer(std::uint64_t gen) {
    auto self = shared_from_this();
    auto sock = sock_;
    while (gen == generation_ && !outbox_.empty()) {
        std::string buf;
        buf.swap(outbox_);
        std::error_code ec;
        co_await asio::async_write(*sock, asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (gen == generation_) fail_all(ec);
            co_return;
        }
    }
    if (gen == generation_) writing_ = false;
}

asio::awaitable<void> node_client::reader(std::uint64_t gen) {
    auto self = shared_from_this();
    auto sock = sock_;
    auto rd = reader_;
    char buf[16384];
    for (;;) {
        std::error_code ec;
        const std::size_t n = co_await sock->async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (gen != generation_) co_return;
        if (ec) {
            fail_all(ec);
            co_return;
        }
        try {
            rd->feed(buf, n);
            while (auto r = rd->next()) {
                if (in_flight_.empty()) throw std::system_error(std::make_error_code(std::errc::protocol_error), "unexpected reply");
                auto p = std::move(in_flight_.front());
                in_flight_.pop_front();
                p->done = true;
                p->result = std::move(*r);
                p->signal.cancel();
            }
        } catch (const std::system_error& e) {
            fail_all(e.code());
            co_return;
        }
    }
}

void node_client::fail_all(std::error_code ec) {
    ++generation_;
    if (state_ == state::up) state_ = state::down;
    counters_->connected.store(false);
    if (sock_) {
        std::error_code ignored;
        sock_->close(ignored);
        sock_.reset();
    }
    reader_.reset();
    outbox_.clear();
    writing_ = false;
    for (auto& p : in_flight_) {
        p->done = true;
        p->ec = ec;
        p->signal.cancel();
    }
    in_flight_.clear();
}

}  // namespace detail
}  // namespace ssehub::redis
