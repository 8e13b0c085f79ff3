// A TCP socket that inserts extra header lines (CORS) right after the status
// line of the first response written through it, and reports that status.
// The hub writes the event stream's response head itself and has no way to
// add headers or to say how a request ended (200: registered and streaming;
// else refused), so the daemon hands it this stream instead of the bare socket.
// Thread safety: Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include <array>
#include <charconv>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace ssehubd {

class header_stream {
public:
    using socket_type = asio::ip::tcp::socket;
    using executor_type = socket_type::executor_type;
    using lowest_layer_type = socket_type::lowest_layer_type;

    // `extra`: complete header lines, each ending in CRLF ("" adds nothing).
    // `on_status`: called once with the status of the first response (on the
    // writing strand).
    header_stream(socket_type s, std::string extra, std::function<void(int)> on_status = {})
        : s_(std::move(s)), first_(std::make_unique<first_response>(std::move(extra), std::move(on_status))) {}

    executor_type get_executor() { return s_.get_executor(); }
    lowest_layer_type& lowest_layer() { return s_.lowest_layer(); }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return s_.async_read_some(buffers, std::forward<Token>(token));
    }

    // For the hub's synchronous write attempt (stream_adapter::try_write).
    void non_blocking(bool mode, std::error_code& ec) { s_.non_blocking(mode, ec); }

    // In non-blocking mode: writes what the socket takes now. The first
    // response goes through async_write_some (it gets the extra lines), so
    // before it this writes nothing (would_block).
    template <class ConstBuffers>
    std::size_t write_some(const ConstBuffers& buffers, std::error_code& ec) {
        if (first_) {
            ec = asio::error::would_block;
            return 0;
        }
        return s_.write_some(buffers, ec);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return asio::async_compose<Token, void(std::error_code, std::size_t)>(write_op<ConstBuffers>{this, buffers},
                                                                              token, s_);
    }

private:
    // First write: writes the status line plus the extra lines completely and
    // reports only the status line as consumed; asio::async_write then writes
    // the rest through the plain path.
    template <class ConstBuffers>
    struct write_op {
        header_stream* stream;
        ConstBuffers buffers;
        std::unique_ptr<std::string> injected{};
        std::size_t consumed = 0;
        bool started = false;

        template <class Self>
        void operator()(Self& self, std::error_code ec = {}, std::size_t n = 0) {
            if (!started) {
                started = true;
                if (stream->first_) {
                    const std::unique_ptr<first_response> first = std::move(stream->first_);
                    std::array<char, 512> start{};
                    const std::size_t len = asio::buffer_copy(asio::buffer(start), buffers);
                    const std::string_view head(start.data(), len);
                    const auto eol = head.find("\r\n");
                    std::string extra = std::move(first->extra);
                    if (first->on_status) {
                        int status = 0;
                        if (head.starts_with("HTTP/1.") && head.size() >= 12)
                            std::from_chars(head.data() + 9, head.data() + 12, status);
                        first->on_status(status);
                    }
                    if (!extra.empty() && head.starts_with("HTTP/") && eol != std::string_view::npos) {
                        consumed = eol + 2;
                        injected = std::make_unique<std::string>(head.substr(0, consumed));
                        *injected += extra;
                        asio::async_write(stream->s_, asio::buffer(*injected), std::move(self));
                        return;
                    }
                }
                stream->s_.async_write_some(buffers, std::move(self));
                return;
            }
            if (injected) n = ec ? 0 : consumed;
            self.complete(ec, n);
        }
    };

    // What only the first response needs: freed once it is written, so that a
    // long-lived stream keeps just the socket.
    struct first_response {
        std::string extra;
        std::function<void(int)> on_status;
    };

    socket_type s_;
    std::unique_ptr<first_response> first_;  // null once the first response started
};

}  // namespace ssehubd
