// ClientStream: the byte stream under a ChatClient, plain TCP or TLS, over a
// non-blocking socket it owns. ChatClient's poll loop stays as it is: it
// polls fd() for POLLIN (plus POLLOUT while WantsWrite()) and calls Read and
// Write, which never block.
// Thread rule: one thread at a time. Ownership: the stream owns the fd and
// closes it on destruction.
#ifndef MUXCHAT_CLIENT_CLIENT_STREAM_H_
#define MUXCHAT_CLIENT_CLIENT_STREAM_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/wire/buffer.h"

namespace muxchat::client {

// How a client secures its connection.
struct ClientTlsOptions {
  bool enabled = false;
  // PEM file of the CA(s) to trust; empty: the system store.
  std::string ca_file;
  // Name the certificate must match and SNI to send; empty: the host
  // connected to. An IP literal is matched against the IP addresses.
  std::string server_name;
  // Skips certificate and name verification (the connection is encrypted
  // but the server is not authenticated). Only when asked explicitly.
  bool insecure = false;
};

// The ALPN protocol a muxchat client asks for.
inline constexpr char kClientAlpn[] = "muxchat/1";

struct StreamResult {
  enum Code { kOk, kWouldBlock, kEof, kError };
  Code code = kOk;
  size_t bytes = 0;
  std::string error;  // kError (and an unclean kEof): why
};

class ClientStream {
 public:
  virtual ~ClientStream() = default;
  // Appends up to `max_bytes` to `in`.
  virtual StreamResult Read(wire::Buffer* in, size_t max_bytes) = 0;
  // Writes from `data`; `bytes` is how many went out.
  virtual StreamResult Write(const char* data, size_t size) = 0;
  // Bytes read from the socket and decrypted, waiting inside the stream:
  // poll() cannot see them, so read before polling again.
  virtual bool HasBufferedInput() const { return false; }
  // A read or write is stalled until the socket is writable (TLS).
  virtual bool WantsWrite() const { return false; }
  // Best-effort orderly close (TLS close_notify), then shutdown(SHUT_RDWR).
  virtual void Shutdown() = 0;
  // "tcp", or the TLS version ("TLSv1.3").
  virtual std::string Describe() const = 0;
  int fd() const { return fd_; }

 protected:
  explicit ClientStream(int fd) : fd_(fd) {}
  const int fd_;
};

// Plain TCP (or any stream socket) over `fd`, taking ownership.
std::unique_ptr<ClientStream> MakePlainStream(int fd);

// Performs a TLS handshake as a client over the connected non-blocking `fd`
// (owned from here on, closed on failure), waiting until `deadline`.
// `host` is what was connected to (used when tls.server_name is empty).
// Errors, each one line: kUnavailable for a failed handshake or an
// unverifiable certificate ("certificate not trusted: ...", "certificate
// does not match host ..."), kDeadlineExceeded, kFailedPrecondition for an
// unreadable CA file.
absl::StatusOr<std::unique_ptr<ClientStream>> MakeTlsStream(int fd, const std::string& host,
                                                            const ClientTlsOptions& tls, absl::Time deadline);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_CLIENT_STREAM_H_
