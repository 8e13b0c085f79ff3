// Test support: a blocking TLS client over a real socket (no certificate
// verification: the tests' own self-signed certificates), reading with
// deadlines like test::client.
#pragma once

#include "support/harness.hpp"

#include <asio/ssl.hpp>

#include <openssl/x509.h>

#include <optional>

namespace test {

using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;

// A blocking TLS client (no certificate verification: the test's own
// self-signed one). Reads only within read_until.
class tls_client {
public:
    tls_client() : ctx_(asio::ssl::context::tls_client), s_(test::client::shared_io(), ctx_) {}

    // TCP connect and TLS handshake (throws on failure).
    void connect(unsigned short port) {
        s_.next_layer().connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        s_.handshake(asio::ssl::stream_base::client);
    }

    // The server certificate's serial number and subject ("/CN=...").
    long peer_serial() const {
        X509* x = SSL_get0_peer_certificate(const_cast<tls_stream&>(s_).native_handle());
        return x ? ASN1_INTEGER_get(X509_get0_serialNumber(x)) : -1;
    }
    std::string peer_subject() const {
        X509* x = SSL_get0_peer_certificate(const_cast<tls_stream&>(s_).native_handle());
        if (!x) return {};
        char buf[256];
        X509_NAME_oneline(X509_get_subject_name(x), buf, sizeof buf);
        return buf;
    }

    void get(unsigned short port, std::string_view target, std::string_view extra_headers = "") {
        connect(port);
        std::string req = "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        req += extra_headers;
        req += "\r\n";
        asio::write(s_, asio::buffer(req));
    }

    bool read_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
        const auto deadline = test::clock::now() + timeout;
        while (!pred()) {
            if (end_) return pred();
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - test::clock::now());
            if (left.count() <= 0) return pred();
            SSL* ssl = s_.native_handle();
            if (SSL_pending(ssl) == 0 && BIO_pending(SSL_get_rbio(ssl)) == 0) {
                pollfd p{s_.next_layer().native_handle(), POLLIN, 0};
                if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            }
            read_available();
        }
        return true;
    }
    bool wait_events(std::size_t n) { return read_until([&] { return events.size() >= n; }); }
    bool wait_closed() { return read_until([&] { return end_.has_value(); }); }

    // How the stream ended: asio::error::eof after the server's close_notify;
    // asio::ssl::error::stream_truncated when the TCP stream ended without it.
    std::error_code end() const { return end_.value_or(std::error_code()); }
    int status() const { return raw.size() < 12 ? 0 : std::stoi(raw.substr(9, 3)); }

    void close() {
        std::error_code ec;
        s_.next_layer().close(ec);
    }

    std::string raw;
    std::vector<ssehub::parsed_event> events;

private:
    void read_available() {
        char buf[16384];
        std::error_code ec;
        const std::size_t n = s_.read_some(asio::buffer(buf), ec);
        if (ec) {
            end_ = ec;
            return;
        }
        const std::size_t before = raw.size();
        raw.append(buf, n);
        std::size_t start = before;
        if (!head_end_) {
            const auto pos = raw.find("\r\n\r\n");
            if (pos == std::string::npos) return;
            head_end_ = pos + 4;
            start = head_end_;
        }
        if (status() != 200) return;
        parser_.feed(std::string_view(raw).substr(start));
        for (auto& e : parser_.drain()) events.push_back(std::move(e));
    }

    asio::ssl::context ctx_;
    tls_stream s_;
    std::size_t head_end_ = 0;
    std::optional<std::error_code> end_;
    ssehub::sse_parser parser_{ssehub::sse_parser::options{true}};
};

}  // namespace test
