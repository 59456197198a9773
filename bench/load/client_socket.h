// One non-blocking client connection of the load generators, cleartext or TLS
// (OpenSSL), driven by the caller's epoll loop: connect, then (TLS) the
// handshake, then reads into and writes from wire::Buffers. The caller asks
// WantsWrite() to know whether to watch EPOLLOUT. TlsClientContext holds the
// one SSL_CTX shared by every socket of a run and must outlive them.
// Single-threaded; a ClientSocket owns its fd and SSL.
#ifndef MUXCHAT_BENCH_LOAD_CLIENT_SOCKET_H_
#define MUXCHAT_BENCH_LOAD_CLIENT_SOCKET_H_

#include <netinet/in.h>
#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/wire/buffer.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace muxchat::bench {

struct TlsClientOptions {
  std::string ca_file;      // PEM bundle to verify the server with; empty: the system store
  std::string server_name;  // checked against the certificate (DNS name or IP address) and sent as SNI
};

class TlsClientContext {
 public:
  static absl::StatusOr<std::unique_ptr<TlsClientContext>> Create(const TlsClientOptions& options);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  SSL_CTX* ctx() const { return ctx_; }
  const std::string& server_name() const { return server_name_; }

 private:
  TlsClientContext(SSL_CTX* ctx, std::string server_name) : ctx_(ctx), server_name_(std::move(server_name)) {}
  SSL_CTX* ctx_;
  std::string server_name_;
};

class ClientSocket {
 public:
  // When TLS starts: at once (Redis, muxchat), or after the server's first
  // cleartext line (NATS 2.9 sends INFO in the clear, then upgrades).
  enum class TlsStart { kImmediately, kAfterGreetingLine };

  ClientSocket() = default;
  ~ClientSocket();
  ClientSocket(const ClientSocket&) = delete;
  ClientSocket& operator=(const ClientSocket&) = delete;

  // Starts a non-blocking connect to `server` from `source` (port 0; null:
  // the kernel picks). `tls` null: cleartext. `tls` must outlive this socket.
  absl::Status Connect(const sockaddr_in& server, const sockaddr_in* source, TlsClientContext* tls,
                       TlsStart tls_start);
  int fd() const { return fd_; }

  // Advances the connect and (TLS) the handshake on any readiness event.
  // Returns true once bytes may flow (then Read/Write apply), false while
  // still in progress, an error if it failed.
  absl::StatusOr<bool> Advance();
  bool established() const { return state_ == State::kOpen; }

  // Like read(2): > 0 bytes appended to `in`, 0 at the peer's end, -1 with
  // errno (EAGAIN: nothing now). At most about max_bytes.
  ssize_t Read(wire::Buffer* in, size_t max_bytes);
  // Writes from the front of `out`, consuming what was written. Returns
  // false with `error` set on a fatal error; true otherwise (EAGAIN included).
  bool Write(wire::Buffer* out, std::string* error);

  // The poller should watch EPOLLOUT for this socket (connecting, or the
  // handshake waits to write) regardless of pending output.
  bool WantsWrite() const;

  // What went wrong in the last failed TLS read (Read returned -1, EPROTO).
  const std::string& tls_error() const { return tls_error_; }

 private:
  enum class State { kConnecting, kGreeting, kHandshake, kOpen };
  absl::StatusOr<bool> Handshake();
  std::string SslError(int ret, const char* what);

  int fd_ = -1;
  State state_ = State::kConnecting;
  TlsClientContext* tls_ = nullptr;
  TlsStart tls_start_ = TlsStart::kImmediately;
  SSL* ssl_ = nullptr;
  bool handshake_wants_write_ = false;
  std::string tls_error_;
};

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_CLIENT_SOCKET_H_
