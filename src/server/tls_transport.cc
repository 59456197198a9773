#include "src/server/tls_transport.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/server/poller.h"
#include "src/server/tls_context.h"

namespace muxchat::server {
namespace {

// Segments gathered per write: a record's worth of small frames.
constexpr size_t kMaxSpans = 64;

// The thread's scratch for records sealed during one Write: it is sent
// before Write returns, so no connection keeps a buffer for it.
std::string& SealScratch() {
  static thread_local std::string scratch = [] {
    std::string s;
    s.reserve(TlsTransport::kSealAheadBytes + TlsTransport::kRecordBytes + 1024);
    return s;
  }();
  return scratch;
}

IoResult Result(IoResult::Code code, size_t bytes = 0, uint32_t want = 0, std::string error = {}) {
  IoResult r;
  r.code = code;
  r.bytes = bytes;
  r.want = want;
  r.error = std::move(error);
  return r;
}

}  // namespace

// A write-only BIO that appends every record OpenSSL writes to the
// transport's current sink. It never blocks, so SSL_write always completes
// and the transport alone decides when bytes go to the socket.
struct SealedSink {
  static int Write(BIO* bio, const char* data, size_t len, size_t* written) {
    auto* self = static_cast<TlsTransport*>(BIO_get_data(bio));
    self->sink_->append(data, len);
    *written = len;
    return 1;
  }
  static long Ctrl(BIO* /*bio*/, int cmd, long /*num*/, void* /*ptr*/) {
    // FLUSH after each handshake flight and write: the bytes are already
    // where the transport sends them from. Anything else is not supported.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
  }
  static int Create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }
  static const BIO_METHOD* Method() {
    static BIO_METHOD* method = [] {
      BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "muxchat sealed records");
      BIO_meth_set_write_ex(m, &SealedSink::Write);
      BIO_meth_set_ctrl(m, &SealedSink::Ctrl);
      BIO_meth_set_create(m, &SealedSink::Create);
      return m;
    }();
    return method;
  }
};

TlsTransport::TlsTransport(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {
  SSL_set_app_data(ssl_, this);
  SSL_set_info_callback(ssl_, &TlsTransport::InfoCallback);
}

TlsTransport::~TlsTransport() { SSL_free(ssl_); }

void TlsTransport::InfoCallback(const SSL* ssl, int where, int /*ret*/) {
  if ((where & SSL_CB_HANDSHAKE_START) == 0) return;
  auto* self = static_cast<TlsTransport*>(SSL_get_app_data(ssl));
  // TLS 1.3 has no renegotiation (its post-handshake messages also start
  // "handshakes" here), so only a 1.2 connection counts.
  if (self != nullptr && self->established_ && SSL_version(ssl) < TLS1_3_VERSION) {
    self->renegotiation_seen_ = true;
  }
}

IoResult TlsTransport::Failure(int ret, const char* op) {
  const int saved_errno = errno;
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return Result(IoResult::kWouldBlock, 0, kPollRead);
    case SSL_ERROR_WANT_WRITE:
      return Result(IoResult::kWouldBlock, 0, kPollWrite);
    case SSL_ERROR_ZERO_RETURN:
      return Result(IoResult::kEof);  // close_notify
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0 && saved_errno == 0) return Result(IoResult::kEof, 0, 0, "peer closed");
      if (saved_errno == EAGAIN || saved_errno == EINTR) return Result(IoResult::kWouldBlock, 0, kPollRead);
      return Result(IoResult::kError, 0, 0,
                    absl::StrCat("TLS ", op, ": ",
                                 DrainTlsErrors(saved_errno != 0 ? std::strerror(saved_errno) : "I/O error")));
    case SSL_ERROR_SSL:
    default:
      // The peer closed the TCP stream without close_notify (mid-record or
      // mid-handshake): an end, not an attack on anyone else; the framing
      // above notices any truncated frame.
      if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        return Result(IoResult::kEof, 0, 0, "peer closed without close_notify");
      }
      return Result(IoResult::kError, 0, 0, absl::StrCat("TLS ", op, ": ", DrainTlsErrors("protocol error")));
  }
}

IoResult TlsTransport::Handshake() {
  if (established_) return Result(IoResult::kOk);
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_);
  if (ret != 1) return Failure(ret, "handshake");
  established_ = true;
  if (!ktls_send()) {
    // From here records are sealed into memory and sent a flush at a time
    // (see the header). The socket BIO stays for reading; SSL_set0_wbio drops
    // only the write side's reference to it.
    BIO* sink = BIO_new(SealedSink::Method());
    if (sink == nullptr) return Result(IoResult::kError, 0, 0, DrainTlsErrors("cannot make the record sink"));
    BIO_set_data(sink, this);
    sink_ = &sealed_;
    SSL_set0_wbio(ssl_, sink);
  }
  const unsigned char* name = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &name, &len);
  alpn_.assign(reinterpret_cast<const char*>(name), name == nullptr ? 0 : len);
  return Result(IoResult::kOk);
}

IoResult TlsTransport::Read(wire::Buffer* in, size_t max_bytes) {
  if (has_deferred_end_) return deferred_end_;
  // Records are decrypted into the buffer's free space when it has a
  // record's worth, else into this spill and appended: growing every idle
  // connection's input buffer to a record (as reading in place would) cost
  // 16 KiB per connection; plain TCP's readv spill avoids the same.
  static thread_local char spill[kRecordBytes];
  size_t total = 0;
  while (total < max_bytes) {
    const size_t room = std::min(max_bytes - total, kRecordBytes);
    const bool in_place = in->WritableBytes() >= room;
    size_t got = 0;
    ERR_clear_error();
    const int ret = SSL_read_ex(ssl_, in_place ? in->BeginWrite() : spill, room, &got);
    IoResult end;
    if (renegotiation_seen_) {
      end = Result(IoResult::kError, 0, 0, "TLS renegotiation refused");
    } else if (ret == 1) {
      if (in_place) {
        in->CommitWrite(got);
      } else {
        in->Append(spill, got);
      }
      total += got;
      continue;
    } else {
      end = Failure(ret, "read");
    }
    if (total == 0) return end;
    if (end.code != IoResult::kWouldBlock) {
      deferred_end_ = end;
      has_deferred_end_ = true;
    }
    break;
  }
  return Result(IoResult::kOk, total);
}

// The bytes of the next record: the queue's front segment where it lies, or
// its small frames coalesced into one record rather than a record each.
const char* TlsTransport::GatherRecord(const wire::OutputQueue& out, size_t limit, size_t* len) {
  // One record's staging, shared by every transport of this thread: it
  // only lives during one SSL_write, so no connection keeps 16 KiB for it.
  static thread_local char staging[kRecordBytes];
  absl::string_view spans[kMaxSpans];
  const size_t count = out.PeekFront(spans, kMaxSpans, limit);
  *len = spans[0].size();
  if (count <= 1 || *len >= limit) return spans[0].data();
  *len = 0;
  for (size_t i = 0; i < count; ++i) {
    std::memcpy(staging + *len, spans[i].data(), spans[i].size());
    *len += spans[i].size();
  }
  return staging;
}

IoResult TlsTransport::Write(wire::OutputQueue* out, size_t max_bytes) {
  if (has_deferred_end_) return deferred_end_;
  if (sink_ != nullptr) return WriteSealed(out, max_bytes);
  size_t total = 0;
  while (!out->empty() && (total < max_bytes || retry_bytes_ > 0)) {
    // A retry must offer at least the bytes of the write that blocked.
    const size_t limit = std::min(kRecordBytes, std::max(max_bytes > total ? max_bytes - total : 0, retry_bytes_));
    size_t len = 0;
    const char* data = GatherRecord(*out, limit, &len);
    size_t written = 0;
    ERR_clear_error();
    const int ret = SSL_write_ex(ssl_, data, len, &written);
    if (ret == 1) {
      out->Consume(written);
      total += written;
      retry_bytes_ = 0;
      continue;
    }
    IoResult end = Failure(ret, "write");
    if (end.code == IoResult::kWouldBlock) {
      retry_bytes_ = len;
      // Like TCP: progress is kOk (the caller counts it and calls again);
      // only a call that moved nothing reports what it waits for.
      if (total > 0) break;
      return end;
    }
    if (total == 0) return end;
    deferred_end_ = end;
    has_deferred_end_ = true;
    break;
  }
  return Result(IoResult::kOk, total);
}

bool TlsTransport::SendSealed(const std::string& bytes, size_t* offset, std::string* error) {
  while (*offset < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + *offset, bytes.size() - *offset, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      ++sealed_sends_;
      *offset += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    *error = absl::StrCat("TLS write: ", n < 0 ? std::strerror(errno) : "socket took nothing");
    return false;
  }
  return true;
}

IoResult TlsTransport::WriteSealed(wire::OutputQueue* out, size_t max_bytes) {
  std::string error;
  // What an earlier flush left (or a read's alert) goes first.
  if (!sealed_.empty()) {
    size_t sent = 0;
    if (!SendSealed(sealed_, &sent, &error)) return Result(IoResult::kError, 0, 0, std::move(error));
    sealed_.erase(0, sent);
    if (!sealed_.empty()) return Result(IoResult::kWouldBlock, 0, kPollWrite);
  }
  std::string& scratch = SealScratch();
  scratch.clear();
  sink_ = &scratch;
  size_t total = 0;
  size_t sent = 0;
  IoResult end;
  bool failed = false;
  for (;;) {
    // Seal up to a few records of the queue, then send them in one call.
    while (!out->empty() && total < max_bytes && scratch.size() < kSealAheadBytes) {
      size_t len = 0;
      const char* data = GatherRecord(*out, std::min(kRecordBytes, max_bytes - total), &len);
      size_t written = 0;
      ERR_clear_error();
      const int ret = SSL_write_ex(ssl_, data, len, &written);
      if (ret != 1) {
        end = Failure(ret, "write");
        failed = true;
        break;
      }
      out->Consume(written);
      total += written;
    }
    if (!SendSealed(scratch, &sent, &error)) {
      end = Result(IoResult::kError, 0, 0, std::move(error));
      failed = true;
    }
    if (failed || sent < scratch.size() || out->empty() || total >= max_bytes) break;
    scratch.clear();
    sent = 0;
  }
  // Sealed records the full socket did not take wait in sealed_ (bounded by
  // kSealAheadBytes plus a record); they are out of the queue already.
  if (sent < scratch.size()) sealed_.append(scratch, sent, std::string::npos);
  scratch.clear();
  sink_ = &sealed_;
  if (failed) {
    if (total == 0) return end;
    if (end.code != IoResult::kWouldBlock) {
      deferred_end_ = end;
      has_deferred_end_ = true;
    }
  }
  return Result(IoResult::kOk, total);
}

bool TlsTransport::HasBufferedInput() const { return !has_deferred_end_ && SSL_pending(ssl_) > 0; }

void TlsTransport::ShutdownWrite() {
  if (established_ && !has_deferred_end_) {
    // Sends close_notify if the socket takes it now; never waits for the
    // peer's (bidirectional shutdown buys nothing before a close).
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
    if (!sealed_.empty()) {
      size_t sent = 0;
      std::string ignored;
      (void)SendSealed(sealed_, &sent, &ignored);
      sealed_.erase(0, sent);
    }
  }
  ::shutdown(fd_, SHUT_WR);
}

void TlsTransport::ReleaseIdleBuffers() {
  // Fails harmlessly (returns 0) while a record is half read or written.
  SSL_free_buffers(ssl_);
  if (sealed_.empty()) std::string().swap(sealed_);
}

const char* TlsTransport::version() const { return SSL_get_version(ssl_); }

bool TlsTransport::ktls_send() const { return BIO_get_ktls_send(SSL_get_wbio(ssl_)) != 0; }

}  // namespace muxchat::server
