#include "src/client/client_stream.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace muxchat::client {
namespace {

constexpr size_t kRecordBytes = 16 * 1024;

std::string ErrnoText(int err) { return std::strerror(err); }

// The first (causing) error in OpenSSL's queue as one line, the queue
// emptied; `fallback` if it held nothing.
std::string TlsErrors(absl::string_view fallback) {
  const unsigned long first = ERR_get_error();
  ERR_clear_error();
  if (first == 0) return std::string(fallback);
  char buf[256];
  ERR_error_string_n(first, buf, sizeof buf);
  return buf;
}

StreamResult Result(StreamResult::Code code, size_t bytes = 0, std::string error = {}) {
  StreamResult r;
  r.code = code;
  r.bytes = bytes;
  r.error = std::move(error);
  return r;
}

class PlainStream : public ClientStream {
 public:
  explicit PlainStream(int fd) : ClientStream(fd) {}
  ~PlainStream() override { ::close(fd_); }

  StreamResult Read(wire::Buffer* in, size_t max_bytes) override {
    for (;;) {
      const ssize_t n = in->ReadFromFd(fd_, max_bytes);
      if (n > 0) return Result(StreamResult::kOk, static_cast<size_t>(n));
      if (n == 0) return Result(StreamResult::kEof);
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return Result(StreamResult::kWouldBlock);
      return Result(StreamResult::kError, 0, absl::StrCat("read: ", ErrnoText(err)));
    }
  }

  StreamResult Write(const char* data, size_t size) override {
    for (;;) {
      const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
      if (n >= 0) return Result(StreamResult::kOk, static_cast<size_t>(n));
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return Result(StreamResult::kWouldBlock);
      return Result(StreamResult::kError, 0, absl::StrCat("write: ", ErrnoText(err)));
    }
  }

  void Shutdown() override { ::shutdown(fd_, SHUT_RDWR); }
  std::string Describe() const override { return "tcp"; }
};

class TlsStream : public ClientStream {
 public:
  // Takes ownership of all three.
  TlsStream(int fd, SSL_CTX* ctx, SSL* ssl) : ClientStream(fd), ctx_(ctx), ssl_(ssl) {}
  ~TlsStream() override {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
  }

  StreamResult Read(wire::Buffer* in, size_t max_bytes) override {
    const size_t room = std::min(max_bytes, kRecordBytes);
    in->EnsureWritable(room);
    size_t got = 0;
    ERR_clear_error();
    const int ret = SSL_read_ex(ssl_, in->BeginWrite(), room, &got);
    if (ret == 1) {
      read_wants_write_ = false;
      in->CommitWrite(got);
      return Result(StreamResult::kOk, got);
    }
    StreamResult r = Failure(ret, "read");
    read_wants_write_ = r.code == StreamResult::kWouldBlock && want_write_;
    return r;
  }

  StreamResult Write(const char* data, size_t size) override {
    size_t written = 0;
    ERR_clear_error();
    const int ret = SSL_write_ex(ssl_, data, size, &written);
    if (ret == 1) return Result(StreamResult::kOk, written);
    return Failure(ret, "write");
  }

  bool HasBufferedInput() const override { return SSL_pending(ssl_) > 0; }
  bool WantsWrite() const override { return read_wants_write_; }

  void Shutdown() override {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify if the socket takes it; never waits
    ERR_clear_error();
    ::shutdown(fd_, SHUT_RDWR);
  }

  std::string Describe() const override { return SSL_get_version(ssl_); }

 private:
  StreamResult Failure(int ret, const char* op) {
    const int saved_errno = errno;
    want_write_ = false;
    switch (SSL_get_error(ssl_, ret)) {
      case SSL_ERROR_WANT_READ:
        return Result(StreamResult::kWouldBlock);
      case SSL_ERROR_WANT_WRITE:
        want_write_ = true;
        return Result(StreamResult::kWouldBlock);
      case SSL_ERROR_ZERO_RETURN:
        return Result(StreamResult::kEof);
      case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && saved_errno == 0) return Result(StreamResult::kEof);
        return Result(StreamResult::kError, 0,
                      absl::StrCat(op, ": ", TlsErrors(saved_errno != 0 ? ErrnoText(saved_errno) : "I/O error")));
      default:
        if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
          ERR_clear_error();
          return Result(StreamResult::kEof);
        }
        return Result(StreamResult::kError, 0, absl::StrCat("TLS ", op, ": ", TlsErrors("protocol error")));
    }
  }

  SSL_CTX* ctx_;
  SSL* ssl_;
  bool want_write_ = false;
  bool read_wants_write_ = false;
};

// A socket BIO that writes with MSG_NOSIGNAL: OpenSSL's own writes with
// write(2), so a server that has gone would kill a client process that has
// not ignored SIGPIPE (the plain stream never raises it either). Everything
// but the write is BIO_s_socket's.
int NoSigpipeWrite(BIO* bio, const char* data, int size) {
  int fd = -1;
  BIO_get_fd(bio, &fd);
  BIO_clear_retry_flags(bio);
  const int n = static_cast<int>(::send(fd, data, static_cast<size_t>(size), MSG_NOSIGNAL));
  if (n <= 0 && BIO_sock_should_retry(n)) BIO_set_retry_write(bio);
  return n;
}

const BIO_METHOD* NoSigpipeSocketMethod() {
  static const BIO_METHOD* method = [] {
    const BIO_METHOD* base = BIO_s_socket();
    BIO_METHOD* m = BIO_meth_new(BIO_TYPE_SOCKET, "socket without SIGPIPE");
    BIO_meth_set_write(m, NoSigpipeWrite);
    BIO_meth_set_read(m, BIO_meth_get_read(base));
    BIO_meth_set_puts(m, BIO_meth_get_puts(base));
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(base));
    BIO_meth_set_create(m, BIO_meth_get_create(base));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(base));
    return m;
  }();
  return method;
}

int PollTimeoutMs(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return -1;
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)));
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

bool IsIpLiteral(const std::string& name) {
  unsigned char addr[16];
  return ::inet_pton(AF_INET, name.c_str(), addr) == 1 || ::inet_pton(AF_INET6, name.c_str(), addr) == 1;
}

// The one-line reason a verified handshake failed.
std::string VerifyFailure(long result, const std::string& name, const ClientTlsOptions& tls) {
  if (result == X509_V_ERR_HOSTNAME_MISMATCH || result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return absl::StrCat("TLS: the server's certificate does not match host ", name);
  }
  return absl::StrCat("TLS: the server's certificate is not trusted (", X509_verify_cert_error_string(result), ")",
                      tls.ca_file.empty() ? " by the system CA store; give --ca FILE"
                                          : absl::StrCat(" by the CA in ", tls.ca_file));
}

}  // namespace

std::unique_ptr<ClientStream> MakePlainStream(int fd) { return std::make_unique<PlainStream>(fd); }

absl::StatusOr<std::unique_ptr<ClientStream>> MakeTlsStream(int fd, const std::string& host,
                                                            const ClientTlsOptions& tls, absl::Time deadline) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    ::close(fd);
    return absl::InternalError(TlsErrors("SSL_CTX_new failed"));
  }
  SSL* ssl = SSL_new(ctx);
  // From here the stream owns fd, ctx and ssl, and frees them on any return.
  auto stream = std::make_unique<TlsStream>(fd, ctx, ssl);
  if (ssl == nullptr) return absl::InternalError(TlsErrors("SSL_new failed"));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  if (!tls.insecure) {
    const int loaded = tls.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                           : SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("TLS: cannot load CA ", tls.ca_file.empty() ? "store" : tls.ca_file, ": ",
                       TlsErrors("unreadable")));
    }
  }
  SSL_set_verify(ssl, tls.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  // ALPN's wire form: each name with its length in front.
  const std::string alpn = std::string(1, static_cast<char>(std::strlen(kClientAlpn))) + kClientAlpn;
  SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn.data()), static_cast<unsigned>(alpn.size()));

  std::string name = tls.server_name.empty() ? host : tls.server_name;
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  if (IsIpLiteral(name)) {
    // No SNI for an address (RFC 6066); the certificate must list the IP.
    if (!tls.insecure) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    if (!tls.insecure) SSL_set1_host(ssl, name.c_str());
  }
  BIO* bio = BIO_new(NoSigpipeSocketMethod());
  if (bio == nullptr) return absl::InternalError(TlsErrors("BIO_new failed"));
  BIO_set_fd(bio, fd, BIO_NOCLOSE);
  SSL_set_bio(ssl, bio, bio);
  SSL_set_connect_state(ssl);

  for (;;) {
    ERR_clear_error();
    const int ret = SSL_do_handshake(ssl);
    if (ret == 1) return std::unique_ptr<ClientStream>(std::move(stream));
    const int saved_errno = errno;
    const int err = SSL_get_error(ssl, ret);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      const long verify = SSL_get_verify_result(ssl);
      if (!tls.insecure && verify != X509_V_OK) {
        ERR_clear_error();
        return absl::UnavailableError(VerifyFailure(verify, name, tls));
      }
      std::string why = TlsErrors(err == SSL_ERROR_SYSCALL && saved_errno != 0 ? ErrnoText(saved_errno)
                                                                                : "the server closed the connection");
      return absl::UnavailableError(absl::StrCat("TLS handshake failed: ", why));
    }
    pollfd p{fd, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    const int n = ::poll(&p, 1, PollTimeoutMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("poll: ", ErrnoText(errno)));
    if (n == 0) return absl::DeadlineExceededError("TLS handshake: timed out");
  }
}

}  // namespace muxchat::client
