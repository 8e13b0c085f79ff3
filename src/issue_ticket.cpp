// Fresh tickets from the OS CSPRNG (for any ticket_store).
#include "ssehub/auth/ticket_store.hpp"

#include "ssehub/base64.hpp"

#include <cerrno>

#if defined(__linux__)
#include <sys/random.h>
#else
#include <unistd.h>  // getentropy (macOS, BSDs)
#endif

namespace ssehub {

std::string issue_ticket_value() {
    unsigned char bytes[32];
    std::size_t got = 0;
    while (got < sizeof bytes) {
#if defined(__linux__)
        const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::system_category(), "getrandom");
        }
        got += static_cast<std::size_t>(n);
#else
        if (::getentropy(bytes, sizeof bytes) != 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::system_category(), "getentropy");
        }
        got = sizeof bytes;
#endif
    }
    return base64url::encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

}  // namespace ssehub
