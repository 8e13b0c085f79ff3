// Test support: a real Redis Cluster of three masters (no replicas) on free
// loopback ports, in a temporary directory, without persistence: three
// `redis-server --cluster-enabled yes`, slots assigned with CLUSTER
// ADDSLOTSRANGE, joined with CLUSTER MEET (what `redis-cli --cluster create`
// does, without its one-second waits), then polled until every node reports
// cluster_state:ok. One cluster serves a whole test binary (shared()).
// Every wait has a deadline; nothing sleeps.
#pragma once

#include "client.hpp"  // src/redis: hiredis's reader and formatter for the blocking commands below

#include "support/child_server.hpp"
#include "support/harness.hpp"

#include <asio.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace redis_test {

using namespace std::chrono_literals;

// One command on a fresh blocking connection; throws on a connection failure.
inline ssehub::redis::detail::reply command(unsigned short port, const std::vector<std::string>& args) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::write(s, asio::buffer(ssehub::redis::detail::format_command(args)));
    ssehub::redis::detail::reply_reader reader;
    char buf[16384];
    for (;;) {
        if (auto r = reader.next()) return std::move(*r);
        const std::size_t n = s.read_some(asio::buffer(buf));
        reader.feed(buf, n);
    }
}

class redis_cluster {
public:
    static constexpr std::uint16_t slot_ends[3] = {5460, 10922, 16383};  // masters 0, 1, 2 at start

    redis_cluster() {
        char dir[] = "/tmp/ssehub_redis_cluster_XXXXXX";
        if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
        dir_ = dir;
        for (int i = 0; i < 3; ++i) start_node();
        for (int i = 0; i < 3; ++i) {
            const auto from = i == 0 ? 0 : slot_ends[i - 1] + 1;
            expect_ok(command(ports_[i], {"CLUSTER", "ADDSLOTSRANGE", std::to_string(from), std::to_string(slot_ends[i])}));
            ids_.push_back(command(ports_[i], {"CLUSTER", "MYID"}).str);
        }
        for (int i = 1; i < 3; ++i) expect_ok(command(ports_[i], {"CLUSTER", "MEET", "127.0.0.1", std::to_string(ports_[0])}));
        if (!test::poll_until([&] { return all_ok(); }, 20s)) throw std::runtime_error("redis cluster did not form: " + dir_);
    }
    ~redis_cluster() {
        for (pid_t p : pids_) {
            if (p <= 0) continue;
            ::kill(p, SIGKILL);
            int st = 0;
            ::waitpid(p, &st, 0);
        }
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    redis_cluster(const redis_cluster&) = delete;
    redis_cluster& operator=(const redis_cluster&) = delete;

    static redis_cluster& shared() {
        static redis_cluster c;
        return c;
    }

    unsigned short port(int i) const { return ports_[static_cast<std::size_t>(i)]; }
    int size() const { return static_cast<int>(ports_.size()); }  // masters and replicas, killed ones included
    bool alive(int i) const { return pids_[static_cast<std::size_t>(i)] > 0; }
    const std::string& id(int i) const { return ids_[static_cast<std::size_t>(i)]; }
    // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
    std::string seeds() const {
        std::string s;
        for (auto p : ports_) s += (s.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(p);
        return s;
    }
    // The node (index) that serves `slot` now, from CLUSTER SLOTS on a live node.
    int owner(std::uint16_t slot) const {
        for (std::size_t i = 0; i < ports_.size(); ++i) {
            if (pids_[i] <= 0) continue;
            const auto r = command(ports_[i], {"CLUSTER", "SLOTS"});
            for (const auto& range : r.elements) {
                if (range.elements.size() < 3 || slot < range.elements[0].integer || slot > range.elements[1].integer)
                    continue;
                const auto port = range.elements[2].elements.at(1).integer;
                for (std::size_t k = 0; k < ports_.size(); ++k)
                    if (ports_[k] == port) return static_cast<int>(k);
            }
        }
        throw std::runtime_error("no owner for a slot");
    }
    // Another live master than `m`.
    int other_master(int m) const {
        for (std::size_t i = 0; i < ports_.size(); ++i) {
            if (static_cast<int>(i) == m || pids_[i] <= 0) continue;
            if (command(ports_[i], {"ROLE"}).elements.at(0).str == "master") return static_cast<int>(i);
        }
        throw std::runtime_error("no other master");
    }

    bool all_ok() const {
        for (std::size_t i = 0; i < ports_.size(); ++i) {
            const auto p = ports_[i];
            if (pids_[i] <= 0) continue;
            try {
                if (command(p, {"CLUSTER", "INFO"}).str.find("cluster_state:ok") == std::string::npos) return false;
            } catch (const std::exception&) {
                return false;
            }
        }
        return true;
    }

    // Starts a replica of master `m` (index 3 on); returns its index once it
    // is in sync (master_link_status:up).
    int add_replica(int m) {
        start_node();
        const int r = static_cast<int>(ports_.size()) - 1;
        expect_ok(command(port(r), {"CLUSTER", "MEET", "127.0.0.1", std::to_string(port(0))}));
        ids_.push_back(command(port(r), {"CLUSTER", "MYID"}).str);
        // REPLICATE works once the replica has heard of the master (gossip).
        if (!test::poll_until([&] { return !command(port(r), {"CLUSTER", "REPLICATE", id(m)}).is_error(); }, 20s))
            throw std::runtime_error("CLUSTER REPLICATE did not succeed");
        if (!test::poll_until(
                [&] { return command(port(r), {"INFO", "replication"}).str.find("master_link_status:up") != std::string::npos; },
                20s))
            throw std::runtime_error("the replica did not sync");
        // Every other live master knows it as m's replica (gossip): only then
        // does it vote for it in a failover.
        const std::string rid = id(r);
        auto known = [&] {
            for (std::size_t i = 0; i < ports_.size(); ++i) {
                if (static_cast<int>(i) == r || pids_[i] <= 0) continue;
                const std::string nodes = command(ports_[i], {"CLUSTER", "NODES"}).str;
                const auto at = nodes.find(rid);
                if (at == std::string::npos) return false;
                const std::string line = nodes.substr(at, nodes.find('\n', at) - at);
                if (line.find("slave " + id(m)) == std::string::npos) return false;
            }
            return true;
        };
        if (!test::poll_until(known, 20s)) throw std::runtime_error("the masters did not learn of the replica");
        return r;
    }

    // SIGSTOP / SIGCONT: a server that stops answering for a while (keep it
    // under cluster-node-timeout, 1 s, or the cluster marks it failing).
    void freeze(int i, bool stop) { ::kill(pids_[static_cast<std::size_t>(i)], stop ? SIGSTOP : SIGCONT); }

    // SIGKILL (a crash): the cluster fails its slots over to a replica.
    void kill(int i) {
        auto& p = pids_[static_cast<std::size_t>(i)];
        ::kill(p, SIGKILL);
        int st = 0;
        ::waitpid(p, &st, 0);
        p = -1;
    }

    // Every live master: `slot` now belongs to master `to` (an empty slot: no keys to migrate).
    void assign(std::uint16_t slot, int to) {
        for (std::size_t i = 0; i < ports_.size(); ++i) {
            if (pids_[i] <= 0 || command(ports_[i], {"ROLE"}).elements.at(0).str != "master") continue;
            expect_ok(command(ports_[i], {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id(static_cast<int>(to))}));
        }
    }

private:
    static void expect_ok(const ssehub::redis::detail::reply& r) {
        if (r.is_error()) throw std::runtime_error("redis cluster setup: " + r.str);
    }

    void start_node() {
        for (int attempt = 0; attempt < 20; ++attempt) {
            const unsigned short port = test::free_port();
            if (port > 55000) continue;  // the cluster bus listens on port + 10000
            const std::string p = std::to_string(port);
            pid_t pid = test::spawn_process({SSEHUB_REDIS_SERVER, "--port", p, "--bind", "127.0.0.1", "--cluster-enabled",
                                             "yes", "--cluster-config-file", dir_ + "/nodes-" + p + ".conf",
                                             "--cluster-node-timeout", "1000", "--repl-diskless-sync-delay", "0", "--save", "", "--appendonly", "no",
                                             "--dir", dir_, "--logfile", dir_ + "/" + p + ".log", "--daemonize", "no"});
            if (pid <= 0) continue;
            const bool up = test::poll_until(
                [&] {
                    int st = 0;
                    if (::waitpid(pid, &st, WNOHANG) == pid) {
                        pid = -1;
                        return true;
                    }
                    try {
                        return command(port, {"PING"}).str == "PONG";
                    } catch (const std::exception&) {
                        return false;
                    }
                },
                20s);
            if (up && pid > 0) {
                pids_.push_back(pid);
                ports_.push_back(port);
                return;
            }
            if (pid > 0) {
                ::kill(pid, SIGKILL);
                int st = 0;
                ::waitpid(pid, &st, 0);
            }
        }
        throw std::runtime_error("redis-server --cluster-enabled did not start (see " + dir_ + ")");
    }

    std::string dir_;
    std::vector<pid_t> pids_;
    std::vector<unsigned short> ports_;
    std::vector<std::string> ids_;
};

}  // namespace redis_test
