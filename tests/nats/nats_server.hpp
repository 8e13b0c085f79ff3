// Test support: a real nats-server on a free loopback port (JetStream on,
// its store in a temporary directory); stop() and start() again on the same
// port (a NATS restart). shared() is one server for a whole test binary.
// Every wait has a deadline; nothing sleeps. available() is false when
// nats-server is not installed: the tests then skip with a message.
#pragma once

#include "support/child_server.hpp"
#include "support/harness.hpp"

#include <asio.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace nats_test {

using namespace std::chrono_literals;

inline bool available() {
    return std::string_view(SSEHUB_NATS_SERVER).size() > 0 && ::access(SSEHUB_NATS_SERVER, X_OK) == 0;
}

using test::free_port;

class nats_server {
public:
    nats_server() {
        char dir[] = "/tmp/ssehub_nats_XXXXXX";
        if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
        dir_ = dir;
        for (int attempt = 0; attempt < 5; ++attempt) {
            port_ = free_port();
            if (start()) return;
        }
        throw std::runtime_error("nats-server did not start (see " + dir_ + "/nats.log)");
    }
    ~nats_server() {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    nats_server(const nats_server&) = delete;
    nats_server& operator=(const nats_server&) = delete;

    unsigned short port() const { return port_; }
    std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

    // Starts on port() and waits until it greets a client (INFO). False if it exited.
    bool start() {
        std::vector<std::string> args{SSEHUB_NATS_SERVER, "-a", "127.0.0.1", "-p", std::to_string(port_), "-js",
                                      "-sd", dir_ + "/js", "-l", dir_ + "/nats.log"};
        pid_ = test::spawn_process(std::move(args));
        if (pid_ <= 0) return false;
        const auto deadline = test::clock::now() + 20s;
        while (test::clock::now() < deadline) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {  // exited: port taken?
                pid_ = -1;
                return false;
            }
            if (greets()) return true;
            std::this_thread::yield();
        }
        stop();
        return false;
    }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);  // a crash, not a goodbye: clients see the socket drop
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
    }

    bool greets() const {
        try {
            asio::io_context io;
            asio::ip::tcp::socket s(io);
            s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
            char buf[8];
            const std::size_t n = asio::read(s, asio::buffer(buf, 4));
            return std::string_view(buf, n) == "INFO";
        } catch (const std::exception&) {
            return false;
        }
    }

private:
    std::string dir_;
    unsigned short port_ = 0;
    pid_t pid_ = -1;
};

// One server for the whole binary (started on first use).
inline nats_server& shared() {
    static nats_server s;
    return s;
}

}  // namespace nats_test
