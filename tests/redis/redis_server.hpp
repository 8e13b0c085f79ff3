// Test support: a real redis-server on a free loopback port, in a temporary
// directory, without persistence; stop() and start() again on the same port
// (a Redis restart). Every wait has a deadline; nothing sleeps.
#pragma once

#include "support/child_server.hpp"
#include "support/harness.hpp"

#include <asio.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace redis_test {

using namespace std::chrono_literals;

using test::free_port;

class redis_server {
public:
    redis_server() {
        char dir[] = "/tmp/ssehub_redis_XXXXXX";
        if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
        dir_ = dir;
        for (int attempt = 0; attempt < 5; ++attempt) {
            port_ = free_port();
            if (start()) return;
        }
        throw std::runtime_error("redis-server did not start (see " + dir_ + "/redis.log)");
    }
    ~redis_server() {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    unsigned short port() const { return port_; }
    std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
    pid_t pid() const { return pid_; }

    // Starts on port() and waits until it answers PING. False if it exited.
    bool start() {
        std::vector<std::string> args{SSEHUB_REDIS_SERVER, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", dir_, "--logfile",
                                      dir_ + "/redis.log", "--daemonize", "no"};
        pid_ = test::spawn_process(std::move(args));
        if (pid_ <= 0) return false;
        const auto deadline = test::clock::now() + 20s;
        while (test::clock::now() < deadline) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {  // exited: port taken?
                pid_ = -1;
                return false;
            }
            if (ping()) return true;
            std::this_thread::yield();
        }
        stop();
        return false;
    }

    // SIGTERM and reap (no save: --save "").
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int st = 0;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
    }

    // One blocking PING on a fresh connection.
    bool ping() const {
        try {
            asio::io_context io;
            asio::ip::tcp::socket s(io);
            s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
            asio::write(s, asio::buffer(std::string_view("PING\r\n")));
            char buf[16];
            const std::size_t n = s.read_some(asio::buffer(buf));
            return std::string_view(buf, n).starts_with("+PONG");
        } catch (const std::exception&) {
            return false;
        }
    }

private:
    std::string dir_;
    unsigned short port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace redis_test
