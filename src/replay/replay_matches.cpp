#include "ssehub/replay/replayer.hpp"

#include "group_index.hpp"
#include "ssehub/topic.hpp"

namespace ssehub {

bool replay_matches(const std::vector<std::string>& topics, const metadata& group,
                    const std::vector<std::string>& patterns, const metadata& conn_meta) noexcept {
    if (topics.empty()) {
        if (group.empty()) return false;  // no target: never routed live either
    } else {
        bool any = false;
        for (const auto& t : topics) {
            for (const auto& p : patterns) {
                if (topic::matches(p, t)) {
                    any = true;
                    break;
                }
            }
            if (any) break;
        }
        if (!any) return false;
    }
    return group.empty() || detail::group_index::matches(conn_meta, group);
}

}  // namespace ssehub
