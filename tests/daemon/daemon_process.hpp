// Test support for ssehubd: starts the real binary on port 0 (reads the URL
// from the first stdout line), sends it signals, reaps it; and a one-shot
// HTTP client over a real socket. Every wait has a deadline; nothing sleeps.
#pragma once

#include "support/harness.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace daemon_test {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// Generous: sanitizer builds start slowly.
inline constexpr auto start_timeout = 30s;

class daemon_process {
public:
    explicit daemon_process(std::vector<std::string> args, std::vector<std::string> env = {}) {
        char log_template[] = "/tmp/ssehubd_test_log_XXXXXX";
        const int log_fd = ::mkstemp(log_template);
        if (log_fd < 0) throw std::runtime_error("mkstemp failed");
        ::close(log_fd);
        log_path_ = log_template;

        int out[2];
        if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
        std::vector<std::string> argv_s{SSEHUBD_PATH};
        bool has_listen = false;
        for (const auto& a : args) has_listen = has_listen || a.starts_with("--listen");
        if (!has_listen) argv_s.push_back("--listen=127.0.0.1:0");
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_s) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<std::string> env_s;
        for (char** e = environ; *e; ++e)
            if (std::strncmp(*e, "SSEHUBD_", 8) != 0) env_s.emplace_back(*e);  // only what the test sets
        env_s.insert(env_s.end(), env.begin(), env.end());
        std::vector<char*> envp;
        for (auto& e : env_s) envp.push_back(e.data());
        envp.push_back(nullptr);

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addclose(&fa, out[0]);
        posix_spawn_file_actions_addclose(&fa, out[1]);
        posix_spawn_file_actions_addopen(&fa, 2, log_path_.c_str(), O_WRONLY | O_APPEND, 0600);
        const int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        out_fd_ = out[0];
        if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
        pid_fd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));  // readable once the child exits
        first_line_ = read_line(start_timeout);
    }

    // Ends the daemon the way production does (SIGTERM: drain, exit 0), so
    // that every test also checks a clean exit, and fails the test if a
    // sanitizer reported anything in the daemon's log.
    ~daemon_process() {
        if (pid_ > 0 && !exited_) {
            ::kill(pid_, SIGTERM);
            if (!wait_exit(30s)) {
                ::kill(pid_, SIGKILL);
                int st = 0;
                ::waitpid(pid_, &st, 0);
                if (std::uncaught_exceptions() == 0) FAIL_CHECK("ssehubd did not exit within 30 s of SIGTERM");
            } else if (std::uncaught_exceptions() == 0) {
                CHECK(status_ == 0);
            }
        }
        if (std::uncaught_exceptions() == 0 && !log_path_.empty()) {
            const auto text = log();
            for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                                       "WARNING: ThreadSanitizer"}) {
                const auto at = text.find(marker);
                if (at != std::string::npos) FAIL_CHECK("sanitizer report in the ssehubd log:\n" << text.substr(at, 4000));
            }
        }
        if (out_fd_ >= 0) ::close(out_fd_);
        if (pid_fd_ >= 0) ::close(pid_fd_);
        if (!log_path_.empty()) ::unlink(log_path_.c_str());
    }

    daemon_process(const daemon_process&) = delete;
    daemon_process& operator=(const daemon_process&) = delete;

    // "ssehubd listening on http://127.0.0.1:PORT"
    const std::string& first_line() const { return first_line_; }

    unsigned short port() const {
        const auto colon = first_line_.rfind(':');
        if (colon == std::string::npos) return 0;
        return static_cast<unsigned short>(std::atoi(first_line_.c_str() + colon + 1));
    }

    void signal(int sig) { ::kill(pid_, sig); }

    // The exit code (or 128 + signal) once the process ended, or nullopt at the deadline.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
        if (exited_) return status_;
        const auto deadline = clock::now() + timeout;
        for (;;) {
            int st = 0;
            const pid_t r = ::waitpid(pid_, &st, WNOHANG);
            if (r == pid_) {
                exited_ = true;
                status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                return status_;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            if (left.count() <= 0) return std::nullopt;
            // Wakes when the child exits (pidfd), or re-checks every 10 ms without one.
            pollfd p{pid_fd_, POLLIN, 0};
            ::poll(&p, pid_fd_ >= 0 ? 1 : 0, static_cast<int>(std::min<long>(left.count(), pid_fd_ >= 0 ? left.count() : 10)));
        }
    }

    std::string log() const {
        std::ifstream in(log_path_);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

private:
    std::string read_line(std::chrono::seconds timeout) {
        std::string line;
        const auto deadline = clock::now() + timeout;
        while (clock::now() < deadline) {
            pollfd p{out_fd_, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            if (::poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
            char c;
            const auto n = ::read(out_fd_, &c, 1);
            if (n <= 0) break;
            if (c == '\n') return line;
            line += c;
        }
        return line;
    }

    pid_t pid_ = -1;
    int out_fd_ = -1;
    int pid_fd_ = -1;
    bool exited_ = false;
    int status_ = -1;
    std::string log_path_;
    std::string first_line_;
};

struct reply {
    int status = 0;
    std::string head;
    std::string body;

    // First header with this name (case-insensitive); "" if absent.
    std::string header(std::string_view name) const {
        std::istringstream in(head);
        std::string line;
        while (std::getline(in, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            const auto colon = line.find(':');
            if (colon == std::string::npos || colon != name.size()) continue;
            bool same = true;
            for (std::size_t i = 0; i < colon; ++i)
                same = same && std::tolower(static_cast<unsigned char>(line[i])) ==
                                   std::tolower(static_cast<unsigned char>(name[i]));
            if (!same) continue;
            auto v = line.substr(colon + 1);
            while (!v.empty() && v.front() == ' ') v.erase(0, 1);
            return v;
        }
        return {};
    }
    bool has_header(std::string_view name) const { return head.find(std::string(name) + ":") != std::string::npos || !header(name).empty(); }
};

// Sends `raw` as is and reads the whole answer (until Content-Length bytes of
// body or EOF: the daemon keeps HTTP/1.1 connections open).
inline reply raw_request(unsigned short port, std::string_view raw) {
    test::client c;
    c.connect(port);
    c.send(raw);
    c.wait_response(20s);
    reply r;
    r.status = c.status();
    r.head = c.head();
    r.body = c.body();
    return r;
}

// One request; `headers` are complete lines ("Name: value\r\n").
inline reply request(unsigned short port, std::string_view method, std::string_view target, std::string_view body = {},
                     std::string_view headers = {}) {
    std::string raw = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    raw += headers;
    if (!body.empty() || method == "POST") raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    raw += "\r\n";
    raw += body;
    return raw_request(port, raw);
}

inline reply post(unsigned short port, std::string_view target, std::string_view body, std::string_view headers = {}) {
    return request(port, "POST", target, body, headers);
}

inline reply get(unsigned short port, std::string_view target, std::string_view headers = {}) {
    return request(port, "GET", target, {}, headers);
}

// An event-stream subscriber that waited for its `connected` event.
struct subscriber {
    test::client c;
    std::string connection_id;

    subscriber(unsigned short port, std::string_view target, std::string_view headers = {}) {
        c.get(port, target, headers);
        if (c.wait_events(1, 20s) && c.events[0].type == "connected") connection_id = test::connection_id(c);
    }
    bool connected() const { return !connection_id.empty(); }
    // Waits for an event of this type; returns it or nullopt.
    std::optional<ssehub::parsed_event> wait_for(std::string_view type, std::chrono::milliseconds timeout = 20s) {
        std::optional<ssehub::parsed_event> found;
        c.read_until(
            [&] {
                for (const auto& e : c.events)
                    if (e.type == type) {
                        found = e;
                        return true;
                    }
                return false;
            },
            timeout);
        return found;
    }
};

// The data of the events after `connected` (and no empty ones), up to and
// including `end`, once it came (else what came in 20 s: a comparison fails).
inline std::vector<std::string> data_until_end(subscriber& s, const std::string& end = "end") {
    s.c.read_until(
        [&] {
            for (const auto& e : s.c.events)
                if (e.data == end) return true;
            return false;
        },
        std::chrono::seconds(20));
    std::vector<std::string> out;
    for (const auto& e : s.c.events) {
        if (e.type == "connected" || (e.type.empty() && e.data.empty())) continue;
        out.push_back(e.data);
        if (e.data == end) break;
    }
    return out;
}

}  // namespace daemon_test
