// fuzz_h2: the HTTP/2 server session (ssehub::h2::session on nghttp2) fed
// the client preface and then fuzzer-chosen frames, in chunks of
// fuzzer-chosen sizes, with a handler that answers some streams (head, body,
// END_STREAM), resets others and leaves the rest open; every posted stream
// operation runs between chunks. Invariants: no crash, no leak, no sanitizer
// report; after the transport closes every stream is gone.
// Input: byte 0 chunk size, byte 1 what the handler does, the rest are frames.
#include "ssehub/h2/session.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    const unsigned mode = data[1];
    const std::string_view frames(reinterpret_cast<const char*>(data + 2), size - 2);

    asio::io_context io;
    ssehub::h2::server_config cfg;
    cfg.max_concurrent_streams = 8;
    cfg.max_header_list_size = 1024;
    cfg.max_request_body = 4096;
    cfg.stream_buffer = 256;
    cfg.rapid_reset_burst = 16;
    cfg.rapid_reset_rate = 1;
    std::vector<ssehub::h2::stream> kept;
    unsigned n = 0;
    auto session = ssehub::h2::session::create(
        io.get_executor(), cfg, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 1),
        [&](ssehub::h2::stream st) {
            FUZZ_CHECK(!st.request().method.empty());
            FUZZ_CHECK(st.body().size() <= cfg.max_request_body);
            switch ((mode >> (n++ % 4) * 2) & 3) {
            case 0: {  // answered: head, a body larger than the stream buffer, END_STREAM
                st.send_head(200, {{"Content-Type", "text/plain"}, {"Connection", "close"}});
                auto body = std::make_shared<std::string>(600, 'b');
                st.async_write_some(asio::buffer(*body), [body](std::error_code, std::size_t) {});
                std::error_code ec;
                st.shutdown(asio::socket_base::shutdown_send, ec);
                kept.push_back(std::move(st));
                break;
            }
            case 1:  // dropped: reset (the destructor)
                break;
            case 2:  // an event stream: head, an EOF watch, kept open
                st.send_head(200, {{"Content-Type", "text/event-stream"}});
                st.async_read_some(asio::mutable_buffer(), [](std::error_code, std::size_t) {});
                kept.push_back(std::move(st));
                break;
            default:  // no answer yet
                kept.push_back(std::move(st));
                break;
            }
        });
    static const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const std::string input = preface + std::string(frames);
    // poll() leaves the context stopped when it ran out of work: restart first.
    auto run_posted = [&io] {
        io.restart();
        io.poll();
    };
    std::string out;
    for (std::size_t off = 0; off < input.size(); off += chunk) {
        run_posted();
        out.clear();
        session->take_output(out, 1 << 20);
        const std::string_view part = std::string_view(input).substr(off, chunk);
        if (!session->receive(std::span<const char>(part.data(), part.size()))) break;
    }
    run_posted();
    out.clear();
    session->take_output(out, 1 << 20);
    session->transport_closed();
    FUZZ_CHECK(session->streams_open() == 0);
    kept.clear();
    run_posted();
    return 0;
}
