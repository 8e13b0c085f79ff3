// Test support for the hostile-client and soak suites: what the kernel says
// about the ssehubd child (open file descriptors, resident memory), /stats
// as JSON, raw non-blocking sockets for floods, and a higher RLIMIT_NOFILE.
// Every wait polls a condition with a deadline; nothing sleeps.
#pragma once

#include "daemon_process.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace hostile {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// The pid of the (only) ssehubd child of this test process.
inline pid_t daemon_pid() {
    const pid_t self = ::getpid();
    DIR* d = ::opendir("/proc");
    if (!d) return -1;
    pid_t found = -1;
    while (dirent* e = ::readdir(d)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0) continue;
        std::ifstream in("/proc/" + std::string(e->d_name) + "/stat");
        std::string stat;
        std::getline(in, stat);
        const auto close_paren = stat.rfind(')');
        const auto open_paren = stat.find('(');
        if (close_paren == std::string::npos || open_paren == std::string::npos) continue;
        const std::string comm = stat.substr(open_paren + 1, close_paren - open_paren - 1);
        std::istringstream rest(stat.substr(close_paren + 2));
        char state = 0;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == self && comm == "ssehubd") found = pid;
    }
    ::closedir(d);
    return found;
}

// Open file descriptors of a process (entries of /proc/<pid>/fd).
inline int fd_count(pid_t pid) {
    DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (!d) return -1;
    int n = 0;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') ++n;
    ::closedir(d);
    return n;
}

// Resident set size in KiB (VmRSS of /proc/<pid>/status).
inline long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

// Raises this process's soft RLIMIT_NOFILE to at least `want` (up to the hard
// limit); returns the soft limit now in force. ssehubd inherits it.
inline rlim_t raise_nofile(rlim_t want) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want) {
        rl.rlim_cur = std::min(want, rl.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &rl);
        ::getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

inline nlohmann::json stats(unsigned short port) {
    const auto r = daemon_test::get(port, "/stats");
    if (r.status != 200) return nlohmann::json::object();
    return nlohmann::json::parse(r.body, nullptr, false);
}

inline std::uint64_t stat_u64(const nlohmann::json& j, const char* group, const char* name) {
    if (!j.is_object() || !j.contains(group) || !j[group].contains(name)) return ~std::uint64_t(0);
    return j[group][name].get<std::uint64_t>();
}

// A raw TCP socket to 127.0.0.1:port (blocking connect, then non-blocking).
// rcvbuf > 0 sets SO_RCVBUF before connecting (a small window).
class raw_socket {
public:
    raw_socket() = default;
    raw_socket(unsigned short port, int rcvbuf = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) return;
        if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd_);
            fd_ = -1;
            return;
        }
        ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    }
    raw_socket(raw_socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)), in_(std::move(o.in_)), eof_(o.eof_) {}
    raw_socket& operator=(raw_socket&& o) noexcept {
        if (this != &o) {
            close();
            fd_ = std::exchange(o.fd_, -1);
            in_ = std::move(o.in_);
            eof_ = o.eof_;
        }
        return *this;
    }
    ~raw_socket() { close(); }

    bool ok() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    // Sends what the kernel takes now; returns the bytes sent (-1 on error).
    long send_some(std::string_view bytes) {
        return static_cast<long>(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL));
    }
    // Reads what is there; sets eof() on EOF or a reset.
    void read_available() {
        char buf[16384];
        for (;;) {
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n > 0) {
                in_.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) eof_ = true;
            return;
        }
    }
    bool eof() const { return eof_; }
    const std::string& received() const { return in_; }
    int status() const { return in_.size() >= 12 && in_.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(in_.c_str() + 9) : 0; }

private:
    int fd_ = -1;
    std::string in_;
    bool eof_ = false;
};

// Reads every socket until each saw EOF or the deadline passed; returns how
// many saw EOF.
inline std::size_t wait_all_closed(std::vector<raw_socket>& socks, std::chrono::milliseconds timeout) {
    const auto deadline = clock::now() + timeout;
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<raw_socket*> open;
        for (auto& s : socks)
            if (s.ok() && !s.eof()) {
                fds.push_back(pollfd{s.fd(), POLLIN, 0});
                open.push_back(&s);
            }
        if (fds.empty()) break;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
        if (left <= 0) break;
        if (::poll(fds.data(), fds.size(), static_cast<int>(left)) <= 0) continue;
        for (std::size_t i = 0; i < fds.size(); ++i)
            if (fds[i].revents) open[i]->read_available();
    }
    std::size_t closed = 0;
    for (auto& s : socks) closed += s.ok() && s.eof() ? 1 : 0;
    return closed;
}

}  // namespace hostile
