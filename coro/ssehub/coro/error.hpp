// Error codes of ssehub::coro: one enum, one category, make_error_code.
// Thread safety: stateless, safe from any thread.
#pragma once

#include <string>
#include <system_error>

namespace ssehub::coro {

enum class channel_errc {
    closed = 1,  // the channel was closed: no more sends; receives fail once it is drained
};

namespace detail {

class channel_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "ssehub.coro.channel"; }
    std::string message(int ev) const override {
        switch (static_cast<channel_errc>(ev)) {
        case channel_errc::closed: return "channel closed";
        }
        return "unknown channel error";
    }
};

}  // namespace detail

inline const std::error_category& channel_category() noexcept {
    static const detail::channel_category_impl instance;
    return instance;
}

inline std::error_code make_error_code(channel_errc e) noexcept {
    return {static_cast<int>(e), channel_category()};
}

}  // namespace ssehub::coro

template <>
struct std::is_error_code_enum<ssehub::coro::channel_errc> : std::true_type {};
