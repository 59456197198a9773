#include "bench/load/client_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <thread>

#include "tests/test_certs.h"

namespace muxchat::bench {
namespace {

// A one-connection loopback server on its own thread: accepts, optionally
// sends one cleartext line, then (with a certificate) a TLS handshake, then
// echoes four bytes. Blocking sockets; joined by the destructor.
class EchoServer {
 public:
  EchoServer(const testing::PemPair* pem, const testing::TempDir* dir, std::string greeting)
      : greeting_(std::move(greeting)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr_.sin_family = AF_INET;
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr_;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_), 0);
    EXPECT_EQ(::listen(listener_, 1), 0);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr_), &len);
    if (pem != nullptr) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      SSL_CTX_use_certificate_chain_file(ctx_, dir->Write("server.pem", pem->cert).c_str());
      SSL_CTX_use_PrivateKey_file(ctx_, dir->Write("server.key", pem->key).c_str(), SSL_FILETYPE_PEM);
    }
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoServer() {
    thread_.join();
    ::close(listener_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  const sockaddr_in& addr() const { return addr_; }

 private:
  void Serve() {
    const int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    if (!greeting_.empty()) (void)!::write(fd, greeting_.data(), greeting_.size());
    char buf[4];
    if (ctx_ == nullptr) {
      if (::recv(fd, buf, sizeof buf, MSG_WAITALL) == 4) (void)!::write(fd, buf, 4);
    } else {
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      size_t n = 0;
      if (SSL_accept(ssl) == 1 && SSL_read_ex(ssl, buf, sizeof buf, &n) == 1) SSL_write_ex(ssl, buf, n, &n);
      SSL_free(ssl);
    }
    ::close(fd);
  }

  std::string greeting_;
  int listener_ = -1;
  sockaddr_in addr_{};
  SSL_CTX* ctx_ = nullptr;
  std::thread thread_;
};

// Drives the socket with poll() until it is established; the error otherwise.
absl::Status Establish(ClientSocket* s) {
  for (int turn = 0; turn < 500; ++turn) {
    pollfd p{s->fd(), static_cast<short>(POLLIN | (s->WantsWrite() ? POLLOUT : 0)), 0};
    ::poll(&p, 1, 10);
    absl::StatusOr<bool> open = s->Advance();
    if (!open.ok()) return open.status();
    if (*open) return absl::OkStatus();
  }
  return absl::DeadlineExceededError("not established within 5 s");
}

// Sends "ping" and reads the echo (bounded).
std::string Echo(ClientSocket* s) {
  wire::Buffer out(16), in(16);
  out.Append("ping");
  std::string error;
  for (int turn = 0; turn < 500 && in.ReadableBytes() < 4; ++turn) {
    if (!s->Write(&out, &error)) return "write failed: " + error;
    pollfd p{s->fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
    const ssize_t n = s->Read(&in, 1 << 16);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN) return "read failed: " + s->tls_error();
  }
  return std::string(in.View());
}

TEST(ClientSocket, CleartextConnectsAndEchoes) {
  EchoServer server(nullptr, nullptr, "");
  ClientSocket s;
  ASSERT_TRUE(s.Connect(server.addr(), nullptr, nullptr, ClientSocket::TlsStart::kImmediately).ok());
  ASSERT_TRUE(Establish(&s).ok());
  EXPECT_EQ(Echo(&s), "ping");
}

TEST(ClientSocket, TlsVerifiesTheServerAgainstTheCaAndEchoes) {
  testing::TestCa ca;
  testing::TempDir dir;
  const testing::PemPair pem = ca.Issue("localhost", "DNS:localhost,IP:127.0.0.1");
  EchoServer server(&pem, &dir, "");
  auto tls = TlsClientContext::Create({dir.Write("ca.pem", ca.cert_pem()), "127.0.0.1"});
  ASSERT_TRUE(tls.ok()) << tls.status();
  ClientSocket s;
  ASSERT_TRUE(s.Connect(server.addr(), nullptr, tls->get(), ClientSocket::TlsStart::kImmediately).ok());
  absl::Status st = Establish(&s);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(Echo(&s), "ping");
}

TEST(ClientSocket, TlsRefusesACertificateForAnotherName) {
  testing::TestCa ca;
  testing::TempDir dir;
  const testing::PemPair pem = ca.Issue("localhost", "DNS:localhost,IP:127.0.0.1");
  EchoServer server(&pem, &dir, "");
  auto tls = TlsClientContext::Create({dir.Write("ca.pem", ca.cert_pem()), "chat.example.com"});
  ASSERT_TRUE(tls.ok()) << tls.status();
  ClientSocket s;
  ASSERT_TRUE(s.Connect(server.addr(), nullptr, tls->get(), ClientSocket::TlsStart::kImmediately).ok());
  absl::Status st = Establish(&s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("hostname mismatch"), std::string::npos) << st;
}

TEST(ClientSocket, TlsRefusesAServerFromAnotherCa) {
  testing::TestCa ca, other;
  testing::TempDir dir;
  const testing::PemPair pem = other.Issue("localhost", "DNS:localhost,IP:127.0.0.1");
  EchoServer server(&pem, &dir, "");
  auto tls = TlsClientContext::Create({dir.Write("ca.pem", ca.cert_pem()), "127.0.0.1"});
  ASSERT_TRUE(tls.ok()) << tls.status();
  ClientSocket s;
  ASSERT_TRUE(s.Connect(server.addr(), nullptr, tls->get(), ClientSocket::TlsStart::kImmediately).ok());
  absl::Status st = Establish(&s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("certificate verify failed"), std::string::npos) << st;
}

TEST(ClientSocket, TlsCanStartAfterACleartextGreetingLine) {
  testing::TestCa ca;
  testing::TempDir dir;
  const testing::PemPair pem = ca.Issue("localhost", "DNS:localhost,IP:127.0.0.1");
  EchoServer server(&pem, &dir, "INFO {\"tls_required\":true}\r\n");
  auto tls = TlsClientContext::Create({dir.Write("ca.pem", ca.cert_pem()), "localhost"});
  ASSERT_TRUE(tls.ok()) << tls.status();
  ClientSocket s;
  ASSERT_TRUE(s.Connect(server.addr(), nullptr, tls->get(), ClientSocket::TlsStart::kAfterGreetingLine).ok());
  absl::Status st = Establish(&s);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(Echo(&s), "ping");
}

TEST(TlsClientContext, RejectsAMissingCaFile) {
  auto tls = TlsClientContext::Create({"/nonexistent/ca.pem", "localhost"});
  EXPECT_FALSE(tls.ok());
}

}  // namespace
}  // namespace muxchat::bench
