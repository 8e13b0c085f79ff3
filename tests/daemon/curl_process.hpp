// A curl process for the daemon tests (TLS, HTTP/2): its stdout goes to a
// file the test polls; ended (SIGTERM) and reaped when destroyed. Every wait
// has a deadline.
#pragma once

#include "daemon_process.hpp"

namespace daemon_test {

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
inline std::string curl(std::vector<std::string> args) {
    curl_process c(std::move(args));
    const auto rc = c.wait_exit(20s);
    CHECK(rc == 0);
    return c.output();
}

}  // namespace daemon_test
