// ssehubd over TLS (--tls-cert FILE --tls-key FILE): the server context
// (TLS 1.2 minimum, ALPN http/1.1), its certificate reloaded on SIGHUP
// without touching open connections (new handshakes use the new context;
// a file that fails to load keeps the previous one), and what the handshake
// (daemon::tls_session, tls.cpp) needs.
// Thread safety: context() and reload() from any thread (locked); start()
// and stop() on the daemon's strand.
#pragma once

#ifdef SSEHUBD_HAS_TLS

#include "log.hpp"
#include "options.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/signal_set.hpp>
#include <asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <string>

namespace ssehubd {

class tls_server {
public:
    // Loads --tls-cert and --tls-key (throws std::runtime_error saying which
    // file and why). `ex`: the daemon's strand (SIGHUP is watched there).
    tls_server(const options& opts, logger& log, asio::any_io_executor ex);

    // The context new handshakes use.
    std::shared_ptr<asio::ssl::context> context() const;

    // Watches SIGHUP: each one reloads the files.
    void start();
    void stop();

    // Reads the files again; true when the new certificate is in use.
    bool reload();

    // "serial=0A subject=CN=..." of the certificate in use, for the log.
    std::string describe() const;

private:
    void wait_signal();

    const options& opts_;
    logger& log_;
    asio::signal_set hup_;
    mutable std::mutex mu_;
    std::shared_ptr<asio::ssl::context> ctx_;
};

}  // namespace ssehubd

#else

namespace ssehubd {
class tls_server {};  // built without libssl: --tls-cert is refused at start
}  // namespace ssehubd

#endif
