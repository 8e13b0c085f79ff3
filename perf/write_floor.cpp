// The write floor: what one small write to a loopback TCP socket costs the
// writing process on this machine, with nothing else in the way (no event
// loop, no queue, no coroutine). A child process pinned to another CPU holds
// the other ends in one epoll set and drains them, as SSE clients would; the
// parent writes one frame to each of N sockets in turn, `rounds` times, and
// divides its own CPU time (user + system, getrusage) by the writes. Every
// delivery a server makes costs at least this much (docs/performance.md).
// reader_cpu -1: no reader at all (the frames stay in the socket buffers, so
// no write wakes anyone: the cost of the write alone).
//
//   ssehub_write_floor [sockets=10000] [rounds=20] [bytes=100] [writer_cpu=0] [reader_cpu=1]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) std::perror("sched_setaffinity (not pinned)");
}

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Reads everything that arrives on `fds` until the parent closes them all.
[[noreturn]] void drain(const std::vector<int>& fds) {
    const int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    for (int fd : fds) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
    }
    std::size_t open = fds.size();
    std::vector<epoll_event> ready(1024);
    char buf[65536];
    while (open > 0) {
        const int n = epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("epoll_wait");
        for (int i = 0; i < n; ++i) {
            const int fd = ready[static_cast<std::size_t>(i)].data.fd;
            const ssize_t got = read(fd, buf, sizeof buf);
            if (got == 0 || (got < 0 && errno != EAGAIN)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
                close(fd);
                --open;
            }
        }
    }
    std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t wanted = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
    const std::size_t rounds = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 20;
    const std::size_t bytes = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 100;
    const int writer_cpu = argc > 4 ? std::atoi(argv[4]) : 0;
    const int reader_cpu = argc > 5 ? std::atoi(argv[5]) : 1;
    if (wanted == 0 || rounds == 0 || bytes == 0) {
        std::fprintf(stderr, "usage: ssehub_write_floor [sockets] [rounds] [bytes] [writer_cpu] [reader_cpu]\n");
        return 2;
    }
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    std::size_t sockets = wanted;  // two descriptors each, in this process until the fork
    if (2 * sockets + 16 > lim.rlim_cur) {
        sockets = (lim.rlim_cur - 16) / 2;
        std::fprintf(stderr, "ssehub_write_floor: %zu sockets (the descriptor limit is %llu)\n", sockets,
                     static_cast<unsigned long long>(lim.rlim_cur));
    }

    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 4096) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        die("listen");
    std::vector<int> clients, servers;
    for (std::size_t i = 0; i < sockets; ++i) {
        const int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
        const int s = accept(listener, nullptr, nullptr);
        if (s < 0) die("accept");
        const int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as a server flushing each event
        fcntl(c, F_SETFL, O_NONBLOCK);
        clients.push_back(c);
        servers.push_back(s);
    }
    close(listener);

    // No reader (reader_cpu < 0): the client ends stay open, unread, here.
    const pid_t child = reader_cpu < 0 ? -1 : fork();
    if (reader_cpu >= 0 && child < 0) die("fork");
    if (child == 0) {
        for (int s : servers) close(s);
        pin(reader_cpu);
        drain(clients);
    }
    if (reader_cpu >= 0)
        for (int c : clients) close(c);
    pin(writer_cpu);

    const std::string frame = "data: " + std::string(bytes > 8 ? bytes - 8 : 1, 'x') + "\n\n";
    std::size_t writes = 0;
    const double cpu0 = cpu_seconds();
    const auto wall0 = std::chrono::steady_clock::now();
    for (std::size_t r = 0; r < rounds; ++r) {
        for (int s : servers) {
            if (write(s, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size())) die("write");
            ++writes;
        }
    }
    const double cpu = cpu_seconds() - cpu0;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    for (int s : servers) close(s);
    if (reader_cpu >= 0) {
        int status = 0;
        waitpid(child, &status, 0);
    }
    std::printf("%zu writes of %zu bytes to %zu loopback sockets (%s): %.2f us of writer CPU per write "
                "(%.2f ms per 1,000), %.2f us wall per write\n",
                writes, frame.size(), sockets, reader_cpu < 0 ? "no reader" : "a reader draining them", cpu / static_cast<double>(writes) * 1e6,
                cpu / static_cast<double>(writes) * 1e6, wall / static_cast<double>(writes) * 1e6);
    return 0;
}
