// TlsContext: the server's TLS configuration (certificate, key, minimum
// version, ALPN) as an OpenSSL SSL_CTX, and the factory for per-connection
// TLS transports. Reload() swaps in a context built from the files again:
// connections made afterwards use it, established ones keep the one they were
// made with (each SSL holds a reference to its SSL_CTX).
// Thread rule: the event-loop thread only (SIGHUP arrives there through the
// loop's signalfd). Owned by the server; outlives nothing it hands out, since
// transports hold their own SSL_CTX reference.
#ifndef MUXCHAT_SERVER_TLS_CONTEXT_H_
#define MUXCHAT_SERVER_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/server/transport.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace muxchat::server {

struct TlsOptions {
  std::string cert_file;  // PEM: the server certificate, then any intermediates
  std::string key_file;   // PEM: its private key
  // Lowest protocol version accepted: "1.2" or "1.3".
  std::string min_version = "1.2";
};

// ALPN protocol names the server offers, in its order of preference.
inline constexpr absl::string_view kAlpnMuxchat = "muxchat/1";
inline constexpr absl::string_view kAlpnHttp = "http/1.1";

class TlsContext {
 public:
  // Loads the certificate and key and checks they match. Sets SIGPIPE to be
  // ignored process-wide (OpenSSL's socket writes can raise it; muxchatd
  // ignores it anyway). kInvalidArgument
  // for a bad min_version, kFailedPrecondition for unreadable or mismatched
  // files, each with OpenSSL's reason.
  static absl::StatusOr<std::unique_ptr<TlsContext>> Create(const TlsOptions& options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Reads the certificate and key files again into a new SSL_CTX for new
  // connections. On any error the current context stays in use and the
  // error is returned; nothing already connected is touched either way.
  absl::Status Reload();

  // A server-side TLS transport over `fd` (borrowed, as for TCP), ready for
  // Handshake(). Null only if OpenSSL cannot allocate (logged by the caller).
  std::unique_ptr<Transport> NewServerTransport(int fd);

  // How many times Reload() has succeeded (tests, logs).
  int generation() const { return generation_; }
  const TlsOptions& options() const { return options_; }

 private:
  explicit TlsContext(TlsOptions options) : options_(std::move(options)) {}
  static absl::StatusOr<SSL_CTX*> BuildContext(const TlsOptions& options);

  TlsOptions options_;
  SSL_CTX* ctx_ = nullptr;  // owned reference; SSLs made from it hold theirs
  int generation_ = 0;
};

// The first (causing) error in OpenSSL's error queue as one line, the queue
// emptied; `fallback` if it held nothing. Shared by the server's TLS files.
std::string DrainTlsErrors(absl::string_view fallback);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_TLS_CONTEXT_H_
