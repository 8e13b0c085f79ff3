// Test support shared by the broker servers (redis_server.hpp,
// nats_server.hpp): a free loopback port and a child process started from
// an argument list.
#pragma once

#include <asio.hpp>

#include <spawn.h>
#include <sys/types.h>

#include <string>
#include <vector>

extern char** environ;

namespace test {

// A port nobody listens on now (bind to 0, read it, close): the server may
// still lose a race for it, so callers retry with another one.
inline unsigned short free_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

// posix_spawn(args[0], args); -1 when it could not start.
inline pid_t spawn_process(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
    return pid;
}

}  // namespace test
