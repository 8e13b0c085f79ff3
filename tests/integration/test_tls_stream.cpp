// ssehub::tls_stream on its own, over a loopback TCP pair in one io_context
// driven by the test: the handshake, bytes both ways, a peer that leaves
// mid-handshake, a write that waits for a slow reader many times, a
// cancelled read, and the end of a stream with and without close_notify.
#ifdef SSEHUB_TEST_TLS

#include "support/polling.hpp"
#include "support/tls_cert.hpp"

#include <ssehub/tls_stream.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/read.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/write.hpp>

#include <openssl/ssl.h>

#include <catch2/catch.hpp>

#include <optional>
#include <string>

namespace {

using asio::ip::tcp;
using ssehub::tls_stream;

// Two connected TCP sockets on 127.0.0.1, and the TLS contexts for both ends
// (the client verifies nothing: the certificate is the test's own).
struct stream_fixture {
    asio::io_context io;
    asio::ssl::context server_ctx{asio::ssl::context::tls_server};
    asio::ssl::context client_ctx{asio::ssl::context::tls_client};
    tcp::socket server_sock{io};
    tcp::socket client_sock{io};

    stream_fixture() {
        const auto id = test::make_self_signed(7, "tls-stream-test");
        SSL_CTX_set_min_proto_version(server_ctx.native_handle(), TLS1_2_VERSION);
        server_ctx.use_certificate_chain(asio::buffer(id.cert_pem));
        server_ctx.use_private_key(asio::buffer(id.key_pem), asio::ssl::context::pem);
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        client_sock.connect(acceptor.local_endpoint());
        acceptor.accept(server_sock);
    }

    // Both ends as TLS streams, handshaken.
    std::pair<tls_stream, tls_stream> handshaken() {
        tls_stream server(std::move(server_sock), server_ctx.native_handle());
        tls_stream client(std::move(client_sock), client_ctx.native_handle());
        std::optional<std::error_code> s_ec, c_ec;
        server.async_handshake(tls_stream::server, [&](std::error_code ec) { s_ec = ec; });
        client.async_handshake(tls_stream::client, [&](std::error_code ec) { c_ec = ec; });
        REQUIRE(test::run_until(io, [&] { return s_ec && c_ec; }));
        REQUIRE(!*s_ec);
        REQUIRE(!*c_ec);
        return {std::move(server), std::move(client)};
    }

    // Reads until the stream ends; returns how it ended.
    std::error_code read_to_end(tls_stream& s, std::string& got) {
        std::optional<std::error_code> end;
        std::array<char, 4096> buf;
        std::function<void()> next = [&] {
            s.async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t n) {
                got.append(buf.data(), n);
                if (ec) end = ec;
                else next();
            });
        };
        next();
        REQUIRE(test::run_until(io, [&] { return end.has_value(); }));
        return *end;
    }
};

}  // namespace

TEST_CASE("tls_stream: handshake, then bytes both ways", "[tls][tls_stream]") {
    stream_fixture f;
    auto [server, client] = f.handshaken();
    CHECK(SSL_version(server.native_handle()) >= TLS1_2_VERSION);

    std::string ping(5, '\0'), pong(5, '\0');
    std::optional<std::error_code> wrote, read;
    asio::async_write(client, asio::buffer(std::string_view("ping!")), [&](std::error_code ec, std::size_t) { wrote = ec; });
    asio::async_read(server, asio::buffer(ping), [&](std::error_code ec, std::size_t) { read = ec; });
    REQUIRE(test::run_until(f.io, [&] { return wrote && read; }));
    CHECK(!*wrote);
    CHECK(!*read);
    CHECK(ping == "ping!");

    wrote.reset();
    read.reset();
    asio::async_write(server, asio::buffer(std::string_view("pong!")), [&](std::error_code ec, std::size_t) { wrote = ec; });
    asio::async_read(client, asio::buffer(pong), [&](std::error_code ec, std::size_t) { read = ec; });
    REQUIRE(test::run_until(f.io, [&] { return wrote && read; }));
    CHECK(!*read);
    CHECK(pong == "pong!");
    CHECK(!server.has_pending());
}

TEST_CASE("tls_stream: a peer that leaves mid-handshake fails the handshake", "[tls][tls_stream]") {
    stream_fixture f;
    tls_stream server(std::move(f.server_sock), f.server_ctx.native_handle());
    std::optional<std::error_code> ec;
    server.async_handshake(tls_stream::server, [&](std::error_code e) { ec = e; });
    SECTION("half a record header, then the FIN") {
        asio::write(f.client_sock, asio::buffer(std::string_view("\x16\x03\x01", 3)));
        f.client_sock.shutdown(tcp::socket::shutdown_send);
        REQUIRE(test::run_until(f.io, [&] { return ec.has_value(); }));
        CHECK(*ec == asio::ssl::error::stream_truncated);
    }
    SECTION("plain HTTP on the TLS port") {
        asio::write(f.client_sock, asio::buffer(std::string_view("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
        REQUIRE(test::run_until(f.io, [&] { return ec.has_value(); }));
        CHECK(ec->category() == asio::error::get_ssl_category());
    }
}

TEST_CASE("tls_stream: a large write waits for a slow reader, many times", "[tls][tls_stream]") {
    stream_fixture f;
    // Bounded kernel buffers: the write fills them long before its end.
    f.server_sock.set_option(asio::socket_base::send_buffer_size(65536));
    f.client_sock.set_option(asio::socket_base::receive_buffer_size(65536));
    auto [server, client] = f.handshaken();

    std::string payload(4 << 20, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7) % 26);
    std::optional<std::error_code> wrote;
    asio::async_write(server, asio::buffer(payload), [&](std::error_code ec, std::size_t) { wrote = ec; });
    test::drain(f.io);  // nobody reads: the kernel buffers fill and the write waits for the socket
    REQUIRE(!wrote);

    std::string got;
    std::array<char, 4096> buf;
    int reads_while_pending = 0;
    std::function<void()> next = [&] {
        client.async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t n) {
            got.append(buf.data(), n);
            if (!wrote) ++reads_while_pending;
            if (!ec && got.size() < payload.size()) next();
        });
    };
    next();
    REQUIRE(test::run_until(f.io, [&] { return wrote && got.size() == payload.size(); }));
    CHECK(!*wrote);
    CHECK(got == payload);
    INFO("reads while the write was pending: " << reads_while_pending);
    CHECK(reads_while_pending > 100);  // the writer went back to waiting again and again
}

TEST_CASE("tls_stream: a pending read is cancelled; the stream goes on", "[tls][tls_stream]") {
    stream_fixture f;
    auto [server, client] = f.handshaken();
    std::array<char, 64> buf;
    std::optional<std::error_code> ec;
    asio::cancellation_signal cancel;  // outlives the operation that holds its slot
    SECTION("by its cancellation slot") {
        server.async_read_some(asio::buffer(buf),
                               asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code e, std::size_t) { ec = e; }));
        test::drain(f.io);
        REQUIRE(!ec);
        cancel.emit(asio::cancellation_type::terminal);
    }
    SECTION("by the socket's cancel()") {
        server.async_read_some(asio::buffer(buf), [&](std::error_code e, std::size_t) { ec = e; });
        test::drain(f.io);
        REQUIRE(!ec);
        server.next_layer().cancel();
    }
    REQUIRE(test::run_until(f.io, [&] { return ec.has_value(); }));
    CHECK(*ec == asio::error::operation_aborted);

    std::string after(5, '\0');
    std::optional<std::error_code> read;
    asio::async_write(client, asio::buffer(std::string_view("after")), [](std::error_code, std::size_t) {});
    asio::async_read(server, asio::buffer(after), [&](std::error_code e, std::size_t) { read = e; });
    REQUIRE(test::run_until(f.io, [&] { return read.has_value(); }));
    CHECK(!*read);
    CHECK(after == "after");
}

TEST_CASE("tls_stream: close_notify ends a stream cleanly; a bare FIN truncates it", "[tls][tls_stream]") {
    stream_fixture f;
    auto [server, client] = f.handshaken();
    std::optional<std::error_code> wrote;
    asio::async_write(server, asio::buffer(std::string_view("last")), [&](std::error_code ec, std::size_t) { wrote = ec; });
    REQUIRE(test::run_until(f.io, [&] { return wrote.has_value(); }));
    SECTION("async_shutdown sends close_notify") {
        std::optional<std::error_code> shut;
        server.async_shutdown([&](std::error_code ec) { shut = ec; });
        REQUIRE(test::run_until(f.io, [&] { return shut.has_value(); }));
        CHECK(!*shut);  // complete once sent: the client's close_notify is not waited for
        std::string got;
        CHECK(f.read_to_end(client, got) == asio::error::eof);
        CHECK(got == "last");
    }
    SECTION("the socket closed without it") {
        server.next_layer().close();
        std::string got;
        CHECK(f.read_to_end(client, got) == asio::ssl::error::stream_truncated);
        CHECK(got == "last");
    }
}

#endif  // SSEHUB_TEST_TLS
