// What a caller of hub::async_serve passes beside the stream, and what it
// gets back when the stream is over.
// Thread safety: value types. Distinct objects: safe. Shared objects: unsafe
// (a connection's serve_context is read-only once serving starts, so the
// hooks may read it from any thread).
#pragma once

#include "ssehub/http.hpp"

#include <any>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ssehub {

class connection;

// Who is being served, as the caller knows it; handed to the hooks through
// connection::context(). The hub only stores it.
struct serve_context {
    // The peer, e.g. "127.0.0.1:53412" or "[::1]:53412". async_serve fills it
    // from the stream's remote_endpoint() when left empty and the stream has
    // one (a TCP socket, or a stream whose lowest layer is one).
    std::string remote;
    // Anything the application wants its hooks to see (a session id, a
    // shared_ptr to its own state): read it with std::any_cast.
    std::any user;
};

struct serve_options {
    // Written in the event stream's response head and in every error
    // response the hub sends for this stream (CORS headers, for example).
    // Names must be tokens and values free of CR, LF and NUL: a bad header
    // ends the stream with `rejected` and status 500, before anything is written.
    std::vector<http::header> headers;
    serve_context context;
    // The connection's topics before authentication and on_connect: an
    // authenticator's topics replace them; on_connect sees them and may change
    // them; without on_connect, topics named by the request (?topics= or the
    // URL) replace them, and they stay when the request names none.
    std::vector<std::string> default_topics;
    // Called once the connection is registered, just before the 200 head is
    // written (on the connection's strand; nothing was refused): the moment
    // the stream starts. Must not block; an exception is logged and ignored.
    std::function<void(const connection&)> on_open;
};

// Why a served stream ended.
enum class serve_reason {
    client_left,    // the client closed the connection (or a write to it failed)
    lifetime,       // max_lifetime ended the stream
    write_timeout,  // a write did not complete within write_timeout
    slow_consumer,  // stayed behind longer than slow_consumer_timeout
    shutdown,       // the hub shut down
    disconnected,   // hub::disconnect(), or the caller cancelled async_serve
    rejected,       // answered with a 4xx/5xx before streaming (status says which)
    auth_failed,    // authentication or topic authorization refused it (401/403)
    auth_expired,   // the credential expired mid-stream (auth_outcome::expires): an `auth-expired` event, then the end
};

// "client_left", "lifetime", ... as spelled above.
std::string_view to_string(serve_reason r) noexcept;

struct serve_outcome {
    serve_reason reason = serve_reason::client_left;
    // The HTTP status answered: 200 once the stream started, the error's
    // status for rejected/auth_failed, 0 when the client left before any answer.
    int status = 0;
    // Empty when no connection was created (the request head never arrived
    // whole, was malformed, or was not a GET).
    std::string connection_id;
    // rejected/auth_failed: why, for the server's log (the authenticator's
    // log reason, or the error body sent); never a token or ticket.
    std::string detail;
    // The peer: serve_context::remote as given (or found) for this stream.
    std::string remote;
};

}  // namespace ssehub
