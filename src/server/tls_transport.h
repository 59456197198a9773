// TlsTransport: the Transport for a TLS connection, server side, over a
// non-blocking socket with OpenSSL's SSL object. OpenSSL's WANT_READ and
// WANT_WRITE become kWouldBlock with `want` (a write may need the socket
// readable and a read may need it writable). Writes gather the output
// queue's front segments into record-sized SSL_writes. Once the handshake is
// done (and the kernel did not take record encryption, kTLS), records are
// sealed into memory and a flush's records leave in one send(2), as a plain
// connection's gathered sendmsg does, instead of one write(2) per record.
// TLS renegotiation is refused: an attempt ends the connection with kError.
// Thread rule: the event-loop thread. Owns its SSL; borrows the fd (the
// Connection owns and closes it). Made by TlsContext::NewServerTransport.
#ifndef MUXCHAT_SERVER_TLS_TRANSPORT_H_
#define MUXCHAT_SERVER_TLS_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "src/server/transport.h"

typedef struct ssl_st SSL;

namespace muxchat::server {

class TlsTransport : public Transport {
 public:
  // Bytes gathered into one SSL_write: one full TLS record. Fewer, larger
  // records cost less framing and MAC work than one record per small frame.
  static constexpr size_t kRecordBytes = 16 * 1024;

  // Takes ownership of `ssl`, already set to accept on `fd`.
  TlsTransport(SSL* ssl, int fd);
  ~TlsTransport() override;
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  const char* Name() const override { return "tls"; }
  IoResult Handshake() override;
  IoResult Read(wire::Buffer* in, size_t max_bytes) override;
  // Consumes from `out` what went out: kOk with the count if anything did
  // (as TCP does), else kWouldBlock with `want`.
  IoResult Write(wire::OutputQueue* out, size_t max_bytes) override;
  bool HasBufferedInput() const override;
  // Sealed records the socket has not taken yet (or an alert a read made).
  bool HasPendingOutput() const override { return !sealed_.empty(); }
  void ShutdownWrite() override;
  absl::string_view alpn() const override { return alpn_; }
  void ReleaseIdleBuffers() override;

  // "TLSv1.3" etc. once the handshake is done (logs, tests).
  const char* version() const;
  // Whether OpenSSL handed record encryption to the kernel (kTLS) for
  // sending; false where the kernel has no `tls` module.
  bool ktls_send() const;
  // send(2) calls that carried sealed records (tests: a flush of several
  // records takes one).
  uint64_t sealed_sends() const { return sealed_sends_; }

  // Records sealed ahead of one send(2): four full records. More would only
  // grow what a full socket leaves in sealed_.
  static constexpr size_t kSealAheadBytes = 4 * kRecordBytes;

 private:
  // The write BIO's sink (see SealedSink in the .cc).
  friend struct SealedSink;
  // The next record's bytes from the front of `out`, at most `limit`.
  static const char* GatherRecord(const wire::OutputQueue& out, size_t limit, size_t* len);
  // Write() once records are sealed into memory.
  IoResult WriteSealed(wire::OutputQueue* out, size_t max_bytes);
  // Sends what it can of `bytes` from `*offset`; false on a socket error
  // (set in `*error`), true when sent or the socket is full.
  bool SendSealed(const std::string& bytes, size_t* offset, std::string* error);
  // Maps an SSL_*_ex failure to an IoResult; `op` names the call for errors.
  IoResult Failure(int ret, const char* op);

  SSL* ssl_;
  int fd_;
  bool established_ = false;
  // A fatal result met after some bytes were already returned as kOk;
  // handed out by the next call instead of asking OpenSSL again.
  IoResult deferred_end_;
  bool has_deferred_end_ = false;
  std::string alpn_;
  // Length of the last SSL_write that wanted the socket: OpenSSL requires
  // the retry to offer at least these same bytes (they are still at the
  // queue's front, since only written bytes are consumed).
  size_t retry_bytes_ = 0;
  // Where the write BIO puts records once sealing: a thread-wide scratch
  // during Write (sent at once, nothing kept per connection), else sealed_.
  std::string* sink_ = nullptr;
  // Sealed bytes the socket did not take (or a read's alert): sent first.
  std::string sealed_;
  uint64_t sealed_sends_ = 0;

  // OpenSSL's info callback: notes a handshake starting on an established
  // TLS 1.2 connection (a renegotiation attempt).
  static void InfoCallback(const SSL* ssl, int where, int ret);
  bool renegotiation_seen_ = false;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_TLS_TRANSPORT_H_
