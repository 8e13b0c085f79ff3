// ssehubd: the ssehub Server-Sent Events hub as a daemon. Browsers subscribe
// with EventSource; any backend publishes with one HTTP call.
//
//   ssehubd [--listen 127.0.0.1:8080] [--auth none|jwt|tickets] ... (ssehubd --help)
//   curl -N 'http://127.0.0.1:8080/events?topics=orders'
//   curl -XPOST -d '{"topics":["orders"],"data":{"id":1}}' http://127.0.0.1:8080/publish
#include "daemon.hpp"
#include "log.hpp"
#include "options.hpp"

#include <asio/io_context.hpp>

#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
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
        const std::size_t threads = parsed.opts->threads;
        asio::io_context ioc(static_cast<int>(threads));
        ssehubd::daemon d(ioc, std::move(*parsed.opts), log);
        // First stdout line: scripts start us on port 0 and read the URL.
        std::cout << "ssehubd listening on " << d.url() << std::endl;
        d.start();
        std::vector<std::thread> extra;  // --threads N: N threads run the io_context
        for (std::size_t i = 1; i < threads; ++i) extra.emplace_back([&ioc] { ioc.run(); });
        ioc.run();
        for (auto& t : extra) t.join();
    } catch (const std::exception& e) {
        log.error("fatal", {{"error", e.what()}});
        return 1;
    }
    return 0;
}
