// Consumer of an installed ssehub's optional components (find_package(ssehub
// COMPONENTS ...)): one call into each that this install has, so a missing
// library or dependency in the exported targets fails the link.
#ifdef SSEHUB_CONSUMER_REDIS
#include <ssehub/redis/options.hpp>
#endif
#ifdef SSEHUB_CONSUMER_NATS
#include <ssehub/nats/options.hpp>
#endif
#ifdef SSEHUB_CONSUMER_MERCURE
#include <ssehub/mercure/selector.hpp>
#endif
#ifdef SSEHUB_CONSUMER_H2
#include <ssehub/h2/session.hpp>

#include <asio/io_context.hpp>
#endif

#include <iostream>

int main() {
    int failures = 0;
#ifdef SSEHUB_CONSUMER_REDIS
    if (!ssehub::redis::parse_redis_url("redis://127.0.0.1:6379/0")) ++failures;
#endif
#ifdef SSEHUB_CONSUMER_NATS
    if (ssehub::nats::subject_of(ssehub::nats::nats_options{}, "orders.eu").empty()) ++failures;
#endif
#ifdef SSEHUB_CONSUMER_MERCURE
    if (!ssehub::mercure::in_reserved_namespace("https://hub.example/.well-known/mercure/subscriptions",
                                                "https://hub.example/.well-known/mercure"))
        ++failures;
#endif
#ifdef SSEHUB_CONSUMER_H2
    asio::io_context io;
    if (!ssehub::h2::session::create(io.get_executor(), {}, {}, [](ssehub::h2::stream) {})) ++failures;
#endif
    if (failures) std::cerr << failures << " component check(s) failed\n";
    return failures == 0 ? 0 : 1;
}
