// A small HTTP/2 client for tests (cleartext, prior knowledge) on nghttp2's
// client API over a blocking socket to 127.0.0.1: several requests on one
// connection, per-stream flow control (a stream whose data is not consumed
// keeps its window shut, as a client that never reads), raw bytes after the
// preface, and what the server sent (status, data, RST_STREAM, GOAWAY).
// Every wait has a deadline; nothing sleeps.
#pragma once

#include <nghttp2/nghttp2.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace test {

class h2_client {
public:
    struct stream_info {
        int status = 0;
        std::string data;
        bool closed = false;
        std::uint32_t error = 0;  // RST_STREAM's (or the close's) error code
        bool consume = true;      // false: never read (its window stays shut)
    };

    // initial_window: SETTINGS_INITIAL_WINDOW_SIZE of each stream.
    explicit h2_client(unsigned short port, std::uint32_t initial_window = 65535) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
            throw std::runtime_error("h2_client: connect failed");
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        nghttp2_session_callbacks* cbs = nullptr;
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_close);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame);
        nghttp2_option* opt = nullptr;
        nghttp2_option_new(&opt);
        nghttp2_option_set_no_auto_window_update(opt, 1);
        nghttp2_session_client_new2(&ng_, cbs, this, opt);
        nghttp2_option_del(opt);
        nghttp2_session_callbacks_del(cbs);
        const nghttp2_settings_entry s[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                            {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, initial_window}};
        nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, s, 2);
        flush();
    }
    ~h2_client() {
        nghttp2_session_del(ng_);
        ::close(fd_);
    }
    h2_client(const h2_client&) = delete;
    h2_client& operator=(const h2_client&) = delete;

    // Submits a request (sent at the next flush or pump); its stream id.
    std::int32_t request(std::string method, std::string path, std::vector<std::pair<std::string, std::string>> headers = {},
                         bool consume = true, bool end_stream = true) {
        std::vector<std::pair<std::string, std::string>> all{
            {":method", std::move(method)}, {":scheme", "http"}, {":authority", "127.0.0.1"}, {":path", std::move(path)}};
        all.insert(all.end(), headers.begin(), headers.end());
        std::vector<nghttp2_nv> nva;
        for (auto& [n, v] : all)
            nva.push_back({reinterpret_cast<std::uint8_t*>(n.data()), reinterpret_cast<std::uint8_t*>(v.data()), n.size(),
                           v.size(), NGHTTP2_NV_FLAG_NONE});
        // Without END_STREAM: a request whose body never comes.
        const std::int32_t id = end_stream ? nghttp2_submit_request(ng_, nullptr, nva.data(), nva.size(), nullptr, nullptr)
                                           : nghttp2_submit_headers(ng_, NGHTTP2_FLAG_NONE, -1, nullptr, nva.data(),
                                                                    nva.size(), nullptr);
        if (id < 0) throw std::runtime_error("h2_client: submit_request failed");
        streams_[id].consume = consume;
        return id;
    }
    void reset(std::int32_t id) { nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL); }
    // Bytes written as they are (after what nghttp2 has queued).
    void raw(std::string_view bytes) {
        if (write_failed) return;
        flush();
        write_all(bytes.data(), bytes.size());
    }
    void flush() {
        while (!write_failed) {
            const std::uint8_t* p = nullptr;
            const auto n = nghttp2_session_mem_send(ng_, &p);
            if (n <= 0) return;
            write_all(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
        }
    }
    // Sends what is queued and reads until pred() holds or the deadline (or EOF).
    bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (!write_failed) flush();
            if (pred()) return true;
            if (eof) return false;
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[16384];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                eof = true;
                continue;
            }
            if (nghttp2_session_mem_recv(ng_, reinterpret_cast<const std::uint8_t*>(buf), static_cast<std::size_t>(n)) < 0)
                eof = true;  // the server broke the protocol: stop
        }
    }
    stream_info& stream(std::int32_t id) { return streams_[id]; }

    bool goaway = false;
    std::uint32_t goaway_error = 0;
    bool eof = false;           // the server closed the connection
    bool write_failed = false;  // a write failed (the server is gone, or reset the connection)

private:
    void write_all(const char* p, std::size_t n) {
        while (n > 0) {
            const auto w = ::send(fd_, p, n, MSG_NOSIGNAL);
            if (w <= 0) {
                write_failed = true;
                return;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
    }
    static h2_client& of(void* u) { return *static_cast<h2_client*>(u); }
    static int on_header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* name, std::size_t namelen,
                         const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* u) {
        if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status")
            of(u).streams_[f->hd.stream_id].status = std::stoi(std::string(reinterpret_cast<const char*>(value), valuelen));
        return 0;
    }
    static int on_data(nghttp2_session* ng, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t len, void* u) {
        auto& st = of(u).streams_[id];
        if (st.consume) {
            st.data.append(reinterpret_cast<const char*>(data), len);
            nghttp2_session_consume(ng, id, len);
        } else {
            nghttp2_session_consume_connection(ng, len);  // the connection's window stays open, the stream's does not
        }
        return 0;
    }
    static int on_close(nghttp2_session*, std::int32_t id, std::uint32_t error, void* u) {
        auto& st = of(u).streams_[id];
        st.closed = true;
        st.error = error;
        return 0;
    }
    static int on_frame(nghttp2_session*, const nghttp2_frame* f, void* u) {
        if (f->hd.type == NGHTTP2_GOAWAY) {
            of(u).goaway = true;
            of(u).goaway_error = f->goaway.error_code;
        }
        return 0;
    }

    int fd_ = -1;
    nghttp2_session* ng_ = nullptr;
    std::map<std::int32_t, stream_info> streams_;
};

}  // namespace test
