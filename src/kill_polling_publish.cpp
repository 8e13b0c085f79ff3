// The kill-polling free functions: each builds its event (kill_polling.cpp)
// and hands it to hub::publish, the hub's public API; nothing else.
#include "ssehub/hub.hpp"
#include "ssehub/kill_polling.hpp"

namespace ssehub {

std::error_code invalidate(hub& target, std::string_view resource, std::string_view resource_id,
                           std::string_view action) {
    return target.publish(kill_polling::invalidate_event(resource, resource_id, action));
}

std::error_code invalidate_with_hint(hub& target, std::string_view resource, std::string_view resource_id,
                                     std::string_view action, const hint& h) {
    return target.publish(kill_polling::invalidate_event(resource, resource_id, action, h));
}

std::error_code invalidate_for_tenant(hub& target, std::string_view tenant, std::string_view resource,
                                      std::string_view resource_id, std::string_view action) {
    return target.publish(kill_polling::invalidate_for_tenant_event(tenant, resource, resource_id, action));
}

std::error_code invalidate_for_tenant_with_hint(hub& target, std::string_view tenant, std::string_view resource,
                                                std::string_view resource_id, std::string_view action,
                                                const hint& h) {
    return target.publish(kill_polling::invalidate_for_tenant_event(tenant, resource, resource_id, action, h));
}

std::error_code signal(hub& target, std::string_view topic) {
    return target.publish(kill_polling::signal_event(topic));
}

std::error_code signal_for_tenant(hub& target, std::string_view tenant, std::string_view topic) {
    return target.publish(kill_polling::signal_for_tenant_event(tenant, topic));
}

std::error_code signal_throttled(hub& target, std::string_view topic, std::chrono::milliseconds ttl) {
    return target.publish(kill_polling::signal_event(topic, ttl));
}

std::error_code domain_event(hub& target, std::string_view resource, std::string_view action,
                             std::string_view resource_id, std::string_view tenant) {
    return target.publish(kill_polling::domain_event(resource, action, resource_id, tenant));
}

std::error_code domain_event(hub& target, std::string_view resource, std::string_view action,
                             std::string_view resource_id, std::string_view tenant, const hint& h) {
    return target.publish(kill_polling::domain_event(resource, action, resource_id, tenant, h));
}

std::error_code batch_domain_events(hub& target, std::string_view tenant,
                                    const std::vector<domain_event_spec>& specs) {
    auto ev = kill_polling::batch_event(tenant, specs);
    if (!ev) return {};
    return target.publish(std::move(*ev));
}

std::error_code progress(hub& target, std::string_view resource, std::string_view resource_id,
                         std::string_view tenant, std::int64_t current, std::int64_t total) {
    return target.publish(kill_polling::progress_event(resource, resource_id, tenant, current, total));
}

std::error_code progress(hub& target, std::string_view resource, std::string_view resource_id,
                         std::string_view tenant, std::int64_t current, std::int64_t total, const hint& h) {
    return target.publish(kill_polling::progress_event(resource, resource_id, tenant, current, total, h));
}

std::error_code complete(hub& target, std::string_view resource, std::string_view resource_id,
                         std::string_view tenant, bool success) {
    return target.publish(kill_polling::complete_event(resource, resource_id, tenant, success));
}

std::error_code complete(hub& target, std::string_view resource, std::string_view resource_id,
                         std::string_view tenant, bool success, const hint& h) {
    return target.publish(kill_polling::complete_event(resource, resource_id, tenant, success, h));
}

}  // namespace ssehub
