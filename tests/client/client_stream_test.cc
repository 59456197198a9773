// The client's TLS stream against a bare TLS server (tls_test_server.h) with
// certificates made by the test: verification by CA and by name, ALPN,
// --insecure, and the one-line errors the CLI shows.
#include "src/client/client_stream.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "tests/client/tls_test_server.h"
#include "tests/test_certs.h"

namespace muxchat::client {
namespace {

using testing::TempDir;
using testing::TestCa;
using testing::TlsTestServer;

constexpr absl::Duration kWait = absl::Seconds(10);

// A non-blocking TCP socket connected to 127.0.0.1:port.
int ConnectTo(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  return fd;
}

class ClientTls : public ::testing::Test {
 protected:
  ClientTlsOptions Trusting() {
    ClientTlsOptions t;
    t.enabled = true;
    t.ca_file = dir_.Write("ca.crt", ca_.cert_pem());
    return t;
  }

  TempDir dir_;
  TestCa ca_;
};

// Writes `text` and reads until it comes back (the test server echoes).
std::string EchoThrough(ClientStream& stream, const std::string& text) {
  size_t sent = 0;
  wire::Buffer in;
  const absl::Time deadline = absl::Now() + kWait;
  while (in.ReadableBytes() < text.size() && absl::Now() < deadline) {
    if (sent < text.size()) {
      const StreamResult w = stream.Write(text.data() + sent, text.size() - sent);
      if (w.code == StreamResult::kOk) sent += w.bytes;
      if (w.code == StreamResult::kError) return "write error: " + w.error;
    }
    const StreamResult r = stream.Read(&in, 1 << 16);
    if (r.code == StreamResult::kError || r.code == StreamResult::kEof) return "read ended: " + r.error;
    if (r.code == StreamResult::kWouldBlock) {
      pollfd p{stream.fd(), POLLIN, 0};
      ::poll(&p, 1, 100);
    }
  }
  return std::string(in.View());
}

TEST_F(ClientTls, HandshakeVerifiesTheServerOffersMuxchatAlpnAndCarriesBytes) {
  TlsTestServer server(ca_.Issue("server", "DNS:localhost,IP:127.0.0.1"), dir_);
  auto stream = MakeTlsStream(ConnectTo(server.port()), "localhost", Trusting(), absl::Now() + kWait);
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ((*stream)->Describe(), "TLSv1.3");
  const std::string big(100000, 'q');
  EXPECT_EQ(EchoThrough(**stream, "hello"), "hello");
  EXPECT_TRUE(EchoThrough(**stream, big) == big);
  EXPECT_EQ(server.alpn(), kClientAlpn);
}

TEST_F(ClientTls, UntrustedCertificateFailsWithOneClearLine) {
  TestCa other("some other CA");
  TlsTestServer server(other.Issue("server", "DNS:localhost"), dir_);
  auto stream = MakeTlsStream(ConnectTo(server.port()), "localhost", Trusting(), absl::Now() + kWait);
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(stream.status().message().find("certificate is not trusted"), absl::string_view::npos)
      << stream.status();
  EXPECT_NE(stream.status().message().find("ca.crt"), absl::string_view::npos) << stream.status();
  EXPECT_EQ(stream.status().message().find('\n'), absl::string_view::npos);
}

TEST_F(ClientTls, SystemStoreDoesNotTrustATestCa) {
  TlsTestServer server(ca_.Issue("server", "DNS:localhost"), dir_);
  ClientTlsOptions t;
  t.enabled = true;
  auto stream = MakeTlsStream(ConnectTo(server.port()), "localhost", t, absl::Now() + kWait);
  ASSERT_FALSE(stream.ok());
  EXPECT_NE(stream.status().message().find("system CA store"), absl::string_view::npos) << stream.status();
}

TEST_F(ClientTls, CertificateForAnotherNameFails) {
  TlsTestServer server(ca_.Issue("server", "DNS:localhost,IP:127.0.0.1"), dir_);
  ClientTlsOptions t = Trusting();
  t.server_name = "chat.example.org";
  auto stream = MakeTlsStream(ConnectTo(server.port()), "localhost", t, absl::Now() + kWait);
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(stream.status().message().find("does not match host chat.example.org"), absl::string_view::npos)
      << stream.status();
}

TEST_F(ClientTls, IpLiteralIsCheckedAgainstTheCertificatesAddresses) {
  {
    TlsTestServer with_ip(ca_.Issue("server", "DNS:localhost,IP:127.0.0.1"), dir_);
    auto ok = MakeTlsStream(ConnectTo(with_ip.port()), "127.0.0.1", Trusting(), absl::Now() + kWait);
    EXPECT_TRUE(ok.ok()) << ok.status();
  }
  TlsTestServer names_only(ca_.Issue("server", "DNS:localhost"), dir_);
  auto refused = MakeTlsStream(ConnectTo(names_only.port()), "127.0.0.1", Trusting(), absl::Now() + kWait);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("does not match host 127.0.0.1"), absl::string_view::npos)
      << refused.status();
}

TEST_F(ClientTls, InsecureSkipsVerificationButStillEncrypts) {
  TestCa other("some other CA");
  TlsTestServer server(other.Issue("server", "DNS:elsewhere"), dir_);
  ClientTlsOptions t;
  t.enabled = true;
  t.insecure = true;
  auto stream = MakeTlsStream(ConnectTo(server.port()), "localhost", t, absl::Now() + kWait);
  ASSERT_TRUE(stream.ok()) << stream.status();
  EXPECT_EQ(EchoThrough(**stream, "anyway"), "anyway");
}

TEST_F(ClientTls, MissingCaFileIsAFailedPrecondition) {
  TlsTestServer server(ca_.Issue("server", "DNS:localhost"), dir_);
  ClientTlsOptions t;
  t.enabled = true;
  t.ca_file = dir_.path() + "/nope.pem";
  auto stream = MakeTlsStream(ConnectTo(server.port()), "localhost", t, absl::Now() + kWait);
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(stream.status().message().find("nope.pem"), absl::string_view::npos) << stream.status();
}

TEST_F(ClientTls, ServerThatIsNotTlsFailsTheHandshakeInsteadOfHanging) {
  // Accepts, answers the ClientHello with plaintext, closes.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int fd = ConnectTo(ntohs(addr.sin_port));
  const int peer = ::accept(listener, nullptr, nullptr);
  const char plaintext[] = "\x00\x00\x00\x10not a TLS server at all";
  ASSERT_GT(::write(peer, plaintext, sizeof plaintext - 1), 0);
  ::shutdown(peer, SHUT_WR);
  auto stream = MakeTlsStream(fd, "localhost", Trusting(), absl::Now() + kWait);
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(stream.status().message().find("TLS handshake failed"), absl::string_view::npos) << stream.status();
  ::close(peer);
  ::close(listener);
}

TEST_F(ClientTls, ChatClientConnectNegotiatesTls) {
  TlsTestServer server(ca_.Issue("server", "DNS:localhost,IP:127.0.0.1,IP:::1"), dir_,
                       TlsTestServer::Mode::kCloseAfterHandshake);
  auto client = ChatClient::Connect("localhost", server.port(), kWait, Trusting());
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->transport(), "TLSv1.3");
}

TEST_F(ClientTls, ChatClientConnectReportsAVerificationFailure) {
  TestCa other("some other CA");
  TlsTestServer server(other.Issue("server", "DNS:localhost"), dir_);
  auto client = ChatClient::Connect("localhost", server.port(), kWait, Trusting());
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.status().message().find("not trusted"), absl::string_view::npos) << client.status();
}

TEST(ClientPlain, PlainConnectIsUnchanged) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto client = ChatClient::Connect("127.0.0.1", ntohs(addr.sin_port), kWait);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->transport(), "tcp");
  ::close(listener);
}

}  // namespace
}  // namespace muxchat::client
