// The byte stream under a Connection: plain TCP or TLS (WebSocket framing
// sits above it). After Redis 7's ConnectionType: one small table of
// operations chosen per connection, so the code above (muxchat frames, HTTP)
// never knows which transport it has. Single-threaded (the event-loop
// thread); owned by its Connection, which owns the fd it was made with.
#ifndef MUXCHAT_SERVER_TRANSPORT_H_
#define MUXCHAT_SERVER_TRANSPORT_H_

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "src/server/close_reason.h"
#include "src/wire/buffer.h"
#include "src/wire/output_queue.h"

namespace muxchat::server {

struct IoResult {
  enum Code {
    kOk,          // progress (bytes may still be 0 for a handshake step)
    kWouldBlock,  // try again when the socket is ready for `want`
    kEof,         // orderly end from the peer (FIN, or TLS close_notify)
    kError,       // fatal: `error` says why; the connection must close
  };
  Code code = kOk;
  size_t bytes = 0;
  // Poll interest needed to make progress after kWouldBlock: kPollRead
  // and/or kPollWrite (a TLS write may need a read, and the reverse).
  uint32_t want = 0;
  std::string error;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // "tcp" or "tls": logs and metrics.
  virtual const char* Name() const = 0;
  // Drives the transport's own handshake. kOk once established (at once for
  // TCP); kWouldBlock with `want` while it needs the socket; kError/kEof end it.
  virtual IoResult Handshake() = 0;
  // Appends up to `max_bytes` application bytes to `in`.
  virtual IoResult Read(wire::Buffer* in, size_t max_bytes) = 0;
  // Writes up to `max_bytes` from the front of `out` and consumes what left.
  virtual IoResult Write(wire::OutputQueue* out, size_t max_bytes) = 0;
  // Whether WriteVectors works: the bytes can go to the socket as they lie,
  // gathered (plain TCP). TLS cannot: it encrypts them into records.
  virtual bool WritesVectors() const { return false; }
  // One gathering write (sendmsg) of `count` buffers, for a wrapper that puts
  // bytes of its own between bytes it does not own (WebSocket headers around
  // payloads in shared fan-out blocks) without copying either. bytes is how
  // many went out, from the front; the caller accounts for them.
  virtual IoResult WriteVectors(const iovec* /*vec*/, size_t /*count*/) {
    IoResult r;
    r.code = IoResult::kError;
    r.error = "vectored writes not supported";
    return r;
  }
  // Application bytes already read from the socket and buffered inside the
  // transport, which the poller cannot report (TLS records decrypted ahead).
  virtual bool HasBufferedInput() const { return false; }
  // Why the connection is ending, just before ShutdownWrite: a transport
  // with a goodbye of its own (WebSocket's Close code) says it accordingly.
  virtual void SetCloseReason(CloseReason) {}
  // Ends our direction once everything owed has been written: FIN for TCP,
  // close_notify then FIN for TLS. Best effort, never blocks.
  virtual void ShutdownWrite() = 0;
  // Negotiated ALPN protocol ("muxchat/1", "http/1.1"), empty if none.
  virtual absl::string_view alpn() const { return {}; }
  // Bytes the transport itself owes the peer beyond the connection's queue
  // (WebSocket pongs and close frames, staged frames): the server keeps
  // flushing, and a closing connection lingers, until they are out.
  virtual bool HasPendingOutput() const { return false; }
  // Releases buffers the transport keeps while idle (TLS's record buffers).
  virtual void ReleaseIdleBuffers() {}
};

// Plain TCP over `fd` (borrowed: the Connection owns and closes it).
std::unique_ptr<Transport> MakeTcpTransport(int fd);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_TRANSPORT_H_
