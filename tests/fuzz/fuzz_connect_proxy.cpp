// fuzz_connect_proxy: what a connect-proxy backend or any HTTP server answers,
// as the library reads it: http::parse_response_head on the first part and
// connect_proxy_answer on the rest. Never a crash or an exception; an
// answer is admitted (0), denied with 400..499, or a failure (503, or 0
// with allow_on_failure); an admitted outcome's topics and metadata are
// only what the JSON named.
#include "ssehub/connect_proxy.hpp"
#include "ssehub/http_client.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto blank = in.find("\r\n\r\n");
    ssehub::http::client_response r;
    if (blank != std::string_view::npos && ssehub::http::parse_response_head(in.substr(0, blank + 4), r))
        FUZZ_CHECK(r.status >= 100 && r.status <= 999);
    const std::string_view body = blank == std::string_view::npos ? in : in.substr(blank + 4);
    ssehub::connect_proxy_options o;
    o.allow_on_failure = size > 0 && (data[0] & 1) != 0;
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
    const auto a = ssehub::connect_proxy_answer(body, o, now);
    FUZZ_CHECK(a.status == 0 || (a.status >= 400 && a.status <= 499) || a.status == 503);
    if (a.status != 0) FUZZ_CHECK(a.metadata.empty() && !a.topics && !a.allowed_topics);
    if (a.expires) FUZZ_CHECK(*a.expires > now);
    return 0;
}
