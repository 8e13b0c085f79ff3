// ssehubd over TLS (--tls-cert/--tls-key): curl -k receives events, failed
// handshakes and TLS slowloris are counted and dropped while others are
// served, and SIGHUP reloads the certificate without dropping streams.
// Certificates are made in-process (support/tls_cert.hpp).
#ifdef SSEHUB_TEST_TLS

#include "daemon_process.hpp"
#include "support/tls_cert.hpp"
#include "support/tls_client.hpp"
#include "support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

using namespace daemon_test;

namespace {

using test::temp_dir;

// A curl process whose stdout goes to a file; ended (SIGTERM) and reaped
// when destroyed.
class curl_process {
public:
    explicit curl_process(std::vector<std::string> args) {
        char tmpl[] = "/tmp/ssehubd_test_curl_XXXXXX";
        const int fd = ::mkstemp(tmpl);
        if (fd < 0) throw std::runtime_error("mkstemp failed");
        ::close(fd);
        out_ = tmpl;
        std::vector<std::string> argv_s{"curl", "-sS", "-k", "--max-time", "20"};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_s) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        const int rc = ::posix_spawnp(&pid_, "curl", &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) throw std::runtime_error(std::string("posix_spawnp curl: ") + std::strerror(rc));
        pid_fd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    }
    ~curl_process() {
        if (!status_) {
            ::kill(pid_, SIGTERM);
            wait_exit(10s);
        }
        if (pid_fd_ >= 0) ::close(pid_fd_);
        ::unlink(out_.c_str());
    }
    curl_process(const curl_process&) = delete;
    curl_process& operator=(const curl_process&) = delete;

    std::string output() const {
        std::ifstream in(out_);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    bool wait_output(std::string_view needle, std::chrono::milliseconds timeout = 20s) const {
        return test::poll_until([&] { return output().find(needle) != std::string::npos; }, timeout);
    }
    // curl's exit code once it ended, or nullopt at the deadline.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
        const auto deadline = clock::now() + timeout;
        while (!status_) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                break;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            if (left.count() <= 0) break;
            pollfd p{pid_fd_, POLLIN, 0};
            ::poll(&p, 1, static_cast<int>(left.count()));
        }
        return status_;
    }

private:
    pid_t pid_ = -1;
    int pid_fd_ = -1;
    std::string out_;
    std::optional<int> status_;
};

// One curl run to its end; its stdout.
std::string curl(std::vector<std::string> args) {
    curl_process c(std::move(args));
    const auto rc = c.wait_exit(20s);
    CHECK(rc == 0);
    return c.output();
}

std::string url(const daemon_process& d, std::string_view path) {
    return "https://127.0.0.1:" + std::to_string(d.port()) + std::string(path);
}

void publish_on(const daemon_process& d, std::string_view topic, std::string_view data) {
    const std::string body = R"({"topics":[")" + std::string(topic) + R"("],"data":")" + std::string(data) + R"("})";
    CHECK(curl({"-XPOST", "-d", body, url(d, "/publish")}).find("\"matched\":1") != std::string::npos);
}

bool metric_is(const daemon_process& d, const std::string& sample) {
    return test::poll_until([&] { return curl({url(d, "/metrics")}).find(sample + "\n") != std::string::npos; });
}

}  // namespace

TEST_CASE("ssehubd over TLS: curl -k gets events; failed handshakes and a TLS slowloris are counted and dropped",
          "[daemon][tls]") {
    temp_dir dir;
    const auto [cert, key] = test::make_self_signed(7, "ssehubd-test").write(dir.path, "");
    daemon_process d({"--tls-cert", cert, "--tls-key", key, "--tls-handshake-timeout-ms", "300"});
    REQUIRE(d.first_line().starts_with("ssehubd listening on https://127.0.0.1:"));

    curl_process stream({"-N", url(d, "/events?topics=orders")});
    REQUIRE(stream.wait_output("event: connected"));
    publish_on(d, "orders", "over tls");
    REQUIRE(stream.wait_output("data: over tls"));

    // Plain HTTP to the TLS port, then bytes that are not TLS at all: each
    // closed at once, nothing answered, counted.
    CHECK(raw_request(d.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status == 0);
    CHECK(raw_request(d.port(), std::string("\x16\x03\x01\x00\x04garbage-after-a-record-header\r\n\r\n", 38)).status == 0);
    CHECK(metric_is(d, R"(ssehubd_tls_handshake_failures_total{reason="error"} 2)"));

    // TCP connect, no ClientHello: dropped at the handshake timeout.
    test::client slow;
    slow.connect(d.port());
    CHECK(slow.wait_closed(10s));
    CHECK(metric_is(d, R"(ssehubd_tls_handshake_failures_total{reason="timeout"} 1)"));

    // Others are still served: the stream keeps receiving, keep-alive works.
    publish_on(d, "orders", "still here");
    REQUIRE(stream.wait_output("data: still here"));
    const auto two = curl({url(d, "/healthz"), url(d, "/healthz")});
    CHECK(two.size() > 0);
    CHECK(!curl({"--tls-max", "1.2", url(d, "/healthz")}).empty());  // TLS 1.2 is served too

    // The drain ends the stream with server-shutdown and a clean TLS close:
    // curl exits 0 (an end without close_notify would be its error 56).
    d.signal(SIGTERM);
    CHECK(stream.wait_output("event: server-shutdown"));
    CHECK(stream.wait_exit(20s) == 0);
}

TEST_CASE("ssehubd over TLS: SIGHUP reloads the certificate; open streams stay", "[daemon][tls]") {
    temp_dir dir;
    const auto first = test::make_self_signed(1001, "first.test");
    const auto second = test::make_self_signed(1002, "second.test");
    const auto [cert, key] = first.write(dir.path, "");
    daemon_process d({"--tls-cert", cert, "--tls-key", key});

    test::tls_client open;
    open.get(d.port(), "/events?topics=r");
    REQUIRE(open.wait_events(1));
    CHECK(open.peer_serial() == 1001);

    second.write(dir.path, "");
    d.signal(SIGHUP);
    // New handshakes see the new certificate (polled: the reload is asynchronous).
    std::string subject;
    CHECK(test::poll_until([&] {
        test::tls_client probe;
        probe.connect(d.port());
        subject = probe.peer_subject();
        return probe.peer_serial() == 1002;
    }));
    CHECK(subject == "/CN=second.test");
    CHECK(d.log().find("\"msg\":\"tls_reloaded\"") != std::string::npos);

    // The stream opened before the reload keeps receiving.
    publish_on(d, "r", "after reload");
    REQUIRE(open.wait_events(2));
    CHECK(open.events[1].data == "after reload");

    // A key that does not load: the reload fails, the current certificate stays.
    std::ofstream(key, std::ios::trunc) << "not a key\n";
    d.signal(SIGHUP);
    CHECK(test::poll_until([&] { return d.log().find("\"msg\":\"tls_reload_failed\"") != std::string::npos; }));
    test::tls_client after;
    after.connect(d.port());
    CHECK(after.peer_serial() == 1002);
}

TEST_CASE("ssehubd over TLS: flags checked at start", "[daemon][tls]") {
    {
        daemon_process d({"--tls-cert", "/nonexistent/cert.pem"});  // without --tls-key
        CHECK(d.wait_exit(20s) == 2);
    }
    daemon_process d({"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"});
    CHECK(d.wait_exit(20s) == 1);
    CHECK(d.log().find("--tls-cert /nonexistent/cert.pem") != std::string::npos);
}

#endif  // SSEHUB_TEST_TLS
