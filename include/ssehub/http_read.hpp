// Reading one HTTP/1.x request head from any Asio stream, with a deadline:
// the one loop the hub and ssehubd share.
// Thread safety: one operation at a time per stream and parser (as for any
// Asio stream operation).
#pragma once

#include "ssehub/error.hpp"
#include "ssehub/http.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

namespace ssehub::http {

namespace detail {

// A stream reduced to what reading a head needs: one function pointer, no
// allocation. `stream` outlives the operation (the caller's).
struct head_reader {
    void* stream = nullptr;
    asio::awaitable<std::size_t> (*read_some)(void* stream, asio::mutable_buffer buf, std::error_code& ec) = nullptr;
};

template <class Stream>
asio::awaitable<std::size_t> read_some_of(void* s, asio::mutable_buffer buf, std::error_code& ec) {
    co_return co_await static_cast<Stream*>(s)->async_read_some(buf, asio::redirect_error(asio::use_awaitable, ec));
}

// The compiled implementation (src/http_read.cpp).
asio::awaitable<std::error_code> read_request(head_reader reader, request_parser& parser, std::string& rest,
                                              std::chrono::milliseconds timeout);

}  // namespace detail

// Reads from `stream` until `parser` holds a whole request head, within
// `timeout` for the whole head (0 or negative: no deadline). Bytes read
// after the head (a body's start, a pipelined request) are stored in `rest`
// (replaced). Completion: void(std::error_code):
//   {}                              parser.get() is the request
//   ssehub::error::request_timeout  the head did not arrive in time     → answer 408
//   ssehub::error::header_too_large over the parser's max_head_bytes or
//                                   max_headers                         → answer 431
//   ssehub::error::bad_request      malformed (parser.error_status() says
//                                   400, 501 or 505; error_message() a safe body)
//   anything else                   the stream's own error (eof: the client left
//                                   before a whole head): answer nothing
// error_status(ec, parser) gives the status to answer (0: none).
// Cancellation: the handler's cancellation slot (per-operation) cancels the
// pending read; the operation then completes with operation_aborted. The
// operation runs on the stream's executor; the handler is invoked on its own
// associated executor (default: the stream's).
template <class Stream, class CompletionToken>
auto async_read_request(Stream& stream, request_parser& parser, std::string& rest, std::chrono::milliseconds timeout,
                        CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [](auto handler, Stream* s, request_parser* p, std::string* r, std::chrono::milliseconds t) {
            const asio::any_io_executor ex = s->get_executor();
            auto slot = asio::get_associated_cancellation_slot(handler);
            detail::head_reader reader{s, &detail::read_some_of<Stream>};
            asio::co_spawn(ex, detail::read_request(reader, *p, *r, t),
                           asio::bind_cancellation_slot(
                               slot, [h = std::move(handler), ex](std::exception_ptr e, std::error_code ec) mutable {
                                   if (e) {
                                       try {
                                           std::rethrow_exception(e);
                                       } catch (const std::system_error& se) {  // cancelled
                                           ec = se.code();
                                       }  // anything else (allocation failure) propagates
                                   }
                                   auto hex = asio::get_associated_executor(h, ex);
                                   asio::dispatch(hex, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
                               }));
        },
        token, &stream, &parser, &rest, timeout);
}

// The status to answer after async_read_request failed with `ec`: 408, 431,
// parser.error_status() (400, 501, 505) for bad_request, 0 for anything else.
int error_status(std::error_code ec, const request_parser& parser) noexcept;

}  // namespace ssehub::http
