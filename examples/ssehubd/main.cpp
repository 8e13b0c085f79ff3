// ssehubd: the ssehub Server-Sent Events hub as a daemon. Browsers subscribe
// with EventSource; any backend publishes with one HTTP call.
//
//   ssehubd [--listen 127.0.0.1:8080] [--auth none|jwt|tickets] ... (ssehubd --help)
//   curl -N 'http://127.0.0.1:8080/events?topics=orders'
//   curl -XPOST -d '{"topics":["orders"],"data":{"id":1}}' http://127.0.0.1:8080/publish
#include "daemon.hpp"
#include "log.hpp"
#include "options.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    auto parsed = ssehubd::parse_options(argc, argv);
    if (!parsed.opts) {
        std::fputs(parsed.message.c_str(), parsed.exit_code == 0 ? stdout : stderr);
        return parsed.exit_code;
    }
    std::signal(SIGPIPE, SIG_IGN);
    ssehubd::logger log(parsed.opts->level);
    try {
        // --threads N: N event loops, one thread each, one hub shard each
        // (connections spread over them; no lock shared on the delivery path).
        const std::size_t threads = parsed.opts->threads;
        std::vector<std::unique_ptr<asio::io_context>> loops;
        std::vector<asio::io_context*> loop_ptrs;
        for (std::size_t i = 0; i < threads; ++i) {
            loops.push_back(std::make_unique<asio::io_context>(1));
            loop_ptrs.push_back(loops.back().get());
        }
        ssehubd::daemon d(loop_ptrs, std::move(*parsed.opts), log);
        // First stdout line: scripts start us on port 0 and read the URL.
        std::cout << "ssehubd listening on " << d.url() << std::endl;
        d.start();
        std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep;  // until the drain stops them
        std::vector<std::thread> extra;
        for (std::size_t i = 1; i < threads; ++i) {
            keep.push_back(asio::make_work_guard(*loops[i]));
            extra.emplace_back([loop = loops[i].get()] { loop->run(); });
        }
        loops[0]->run();
        keep.clear();
        for (std::size_t i = 1; i < threads; ++i) loops[i]->stop();
        for (auto& t : extra) t.join();
    } catch (const std::exception& e) {
        log.error("fatal", {{"error", e.what()}});
        return 1;
    }
    return 0;
}
