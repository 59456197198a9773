#include "bench/load/client_socket.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace muxchat::bench {
namespace {

// One TLS record's plaintext at most: reading into at least this much space
// takes a whole record, so nothing is left inside SSL that epoll cannot see.
constexpr size_t kTlsRecordBytes = 16384;
// A server greeting line longer than this is not what we expect.
constexpr size_t kMaxGreetingBytes = 16384;

std::string OpenSslErrors() {
  std::string s;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!s.empty()) s += "; ";
    s += buf;
  }
  return s.empty() ? "no OpenSSL error queued" : s;
}

bool IsIpAddress(const std::string& s) {
  in6_addr a6;
  in_addr a4;
  return ::inet_pton(AF_INET, s.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsClientContext>> TlsClientContext::Create(const TlsClientOptions& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("SSL_CTX_new: ", OpenSslErrors()));
  std::unique_ptr<TlsClientContext> c(new TlsClientContext(ctx, o.server_name));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // Every connection makes a full handshake, as a fleet of distinct clients would.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Record buffers are kept (no SSL_MODE_RELEASE_BUFFERS: freeing and
  // reallocating them around every record cost the generator a malloc pair
  // per record), and reads take several records per syscall (read-ahead into
  // a 64 KiB buffer) instead of a 5-byte header read and a body read each.
  // The generator's own cost per delivery is what bounds every target's
  // figures on a shared 2-core machine, so it is kept as low as TCP's allows.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
  // A peer closing without close_notify is an end of stream, not an error.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  const int loaded = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                       : SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr);
  if (loaded != 1) {
    return absl::InvalidArgumentError(absl::StrCat("loading CA ", o.ca_file.empty() ? "(system store)" : o.ca_file,
                                                   ": ", OpenSslErrors()));
  }
  return c;
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

ClientSocket::~ClientSocket() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

absl::Status ClientSocket::Connect(const sockaddr_in& server, const sockaddr_in* source, TlsClientContext* tls,
                                   TlsStart tls_start) {
  tls_ = tls;
  tls_start_ = tls_start;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source != nullptr) {
    // Pick the port at connect time, per destination: many source addresses
    // then give many times the ephemeral port range.
    ::setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(source), sizeof *source) != 0) {
      return absl::UnavailableError(absl::StrCat("bind: ", std::strerror(errno)));
    }
  }
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno)));
  }
  state_ = State::kConnecting;
  return absl::OkStatus();
}

std::string ClientSocket::SslError(int ret, const char* what) {
  const int err = SSL_get_error(ssl_, ret);
  std::string s = absl::StrCat(what, ": SSL error ", err, " (", OpenSslErrors(), ")");
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) absl::StrAppend(&s, "; certificate: ", X509_verify_cert_error_string(verify));
  if (err == SSL_ERROR_SYSCALL && errno != 0) absl::StrAppend(&s, "; ", std::strerror(errno));
  return s;
}

absl::StatusOr<bool> ClientSocket::Handshake() {
  if (ssl_ == nullptr) {
    ssl_ = SSL_new(tls_->ctx());
    if (ssl_ == nullptr) return absl::InternalError(absl::StrCat("SSL_new: ", OpenSslErrors()));
    SSL_set_fd(ssl_, fd_);
    const std::string& name = tls_->server_name();
    if (IsIpAddress(name)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
    } else if (!name.empty()) {
      SSL_set_tlsext_host_name(ssl_, name.c_str());
      SSL_set1_host(ssl_, name.c_str());
    }
    SSL_set_connect_state(ssl_);
    state_ = State::kHandshake;
  }
  ERR_clear_error();
  const int r = SSL_connect(ssl_);
  if (r == 1) {
    state_ = State::kOpen;
    handshake_wants_write_ = false;
    return true;
  }
  const int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    handshake_wants_write_ = err == SSL_ERROR_WANT_WRITE;
    return false;
  }
  return absl::UnavailableError(SslError(r, "TLS handshake"));
}

absl::StatusOr<bool> ClientSocket::Advance() {
  switch (state_) {
    case State::kConnecting: {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(err)));
      if (tls_ == nullptr) {
        state_ = State::kOpen;
        return true;
      }
      if (tls_start_ == TlsStart::kAfterGreetingLine) {
        state_ = State::kGreeting;
        return false;
      }
      return Handshake();
    }
    case State::kGreeting: {
      // The server sends one line and waits for us, so whatever is readable
      // now is that line; it is read and dropped here (the adapters do not
      // need it), then the handshake starts.
      char line[kMaxGreetingBytes];
      const ssize_t n = ::read(fd_, line, sizeof line);
      if (n == 0) return absl::UnavailableError("server closed the connection before its greeting");
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return false;
        return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
      }
      if (n < 2 || line[n - 2] != '\r' || line[n - 1] != '\n') {
        return absl::UnavailableError("expected one cleartext greeting line before TLS");
      }
      return Handshake();
    }
    case State::kHandshake:
      return Handshake();
    case State::kOpen:
      return true;
  }
  return false;
}

bool ClientSocket::WantsWrite() const {
  return state_ == State::kConnecting || (state_ == State::kHandshake && handshake_wants_write_);
}

ssize_t ClientSocket::Read(wire::Buffer* in, size_t max_bytes) {
  if (ssl_ == nullptr) return in->ReadFromFd(fd_, max_bytes);
  size_t total = 0;
  for (;;) {
    in->EnsureWritable(kTlsRecordBytes);
    size_t n = 0;
    ERR_clear_error();
    const int r = SSL_read_ex(ssl_, in->BeginWrite(), in->WritableBytes(), &n);
    if (r == 1) {
      in->CommitWrite(n);
      total += n;
      if (total >= max_bytes && SSL_has_pending(ssl_) == 0) return static_cast<ssize_t>(total);
      continue;
    }
    const int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (total > 0) return static_cast<ssize_t>(total);
      errno = EAGAIN;
      return -1;
    }
    if (total > 0) return static_cast<ssize_t>(total);  // the error shows on the next read
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    tls_error_ = SslError(r, "TLS read");
    errno = EPROTO;
    return -1;
  }
}

bool ClientSocket::Write(wire::Buffer* out, std::string* error) {
  while (!out->empty()) {
    if (ssl_ == nullptr) {
      const ssize_t n = ::write(fd_, out->Peek(), out->ReadableBytes());
      if (n > 0) {
        out->Consume(static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        return true;
      } else {
        *error = absl::StrCat("write: ", std::strerror(errno));
        return false;
      }
      continue;
    }
    size_t n = 0;
    ERR_clear_error();
    const int r = SSL_write_ex(ssl_, out->Peek(), out->ReadableBytes(), &n);
    if (r == 1) {
      out->Consume(n);
      continue;
    }
    const int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return true;
    *error = SslError(r, "TLS write");
    return false;
  }
  return true;
}

}  // namespace muxchat::bench
