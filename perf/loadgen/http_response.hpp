// Client side of HTTP/1.1 for the load generator, sans-io: the head of a
// response (status, framing, keep-alive) and a chunked body decoder. The
// project's own parser (ssehub/http.hpp) reads requests only; this is the
// other direction, kept to what a load client needs.
// Thread safety: Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ssehub::bench {

struct response_head {
    int status = 0;
    bool keep_alive = true;  // HTTP/1.1 default; "Connection: close" or HTTP/1.0 without keep-alive → false
    bool chunked = false;    // Transfer-Encoding: chunked
    std::optional<std::size_t> content_length;
};

// Parses a response head at the start of `bytes`. Returns the head's length
// (through the blank line) with `out` filled, 0 when the blank line has not
// arrived yet (and bytes.size() <= max_head), or std::string_view::npos when
// the head is malformed or longer than max_head.
std::size_t parse_response_head(std::string_view bytes, response_head& out, std::size_t max_head = 16384);

// Decodes a chunked body incrementally: feed() hands every data byte to
// on_data(std::string_view) and skips the framing (sizes, extensions, CRLFs,
// trailers). Fails (failed() true, further input ignored) on a malformed size
// line or a size above max_chunk.
class chunked_decoder {
public:
    explicit chunked_decoder(std::uint64_t max_chunk = 1ull << 32) : max_chunk_(max_chunk) {}

    template <class F>
    void feed(std::string_view in, F&& on_data) {
        while (!in.empty() && !failed_ && !done_) {
            if (st_ == state::data) {
                const std::size_t n = remaining_ < in.size() ? static_cast<std::size_t>(remaining_) : in.size();
                on_data(in.substr(0, n));
                in.remove_prefix(n);
                remaining_ -= n;
                if (remaining_ == 0) st_ = state::data_cr;
                continue;
            }
            step(in.front());
            in.remove_prefix(1);
        }
    }
    bool failed() const noexcept { return failed_; }
    bool done() const noexcept { return done_; }  // the last chunk and the trailers were read

private:
    enum class state : std::uint8_t { size, ext, size_lf, data, data_cr, data_lf, trailer, trailer_lf, last_lf };
    void step(char c) noexcept;

    std::uint64_t max_chunk_;
    std::uint64_t remaining_ = 0;
    state st_ = state::size;
    bool any_digit_ = false;
    bool trailer_empty_ = true;  // the current trailer line is empty so far
    bool failed_ = false;
    bool done_ = false;
};

}  // namespace ssehub::bench
