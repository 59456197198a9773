// TLS on the server's one port, end to end with real sockets, for both
// pollers: a TLS client (the client library, trusting a test CA) chats with
// a cleartext client in one room; a client that does not trust the server
// fails with a clear error; hostile TLS starts end without costing a
// chatting pair anything.
#include <fcntl.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "src/server/server.h"
#include "tests/server/server_fixture.h"
#include "tests/test_certs.h"

namespace muxchat::server::testing {
namespace {

using client::ChatClient;
using client::ClientTlsOptions;
using muxchat::testing::TempDir;
using muxchat::testing::TestCa;

class TlsServer : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const auto pair = ca_.Issue("muxchat test server", "DNS:localhost,IP:127.0.0.1");
    options_.poller = GetParam();
    options_.tls.cert_file = dir_.Write("server.crt", pair.cert);
    options_.tls.key_file = dir_.Write("server.key", pair.key);
  }

  ClientTlsOptions Trusting() {
    ClientTlsOptions t;
    t.enabled = true;
    t.ca_file = dir_.Write("ca.crt", ca_.cert_pem());
    return t;
  }

  std::unique_ptr<ChatClient> TlsLogin(uint16_t port, const std::string& nick) {
    auto c = ChatClient::Connect("localhost", port, kTimeout, Trusting());
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    auto w = (*c)->Hello(nick, kTimeout);
    EXPECT_TRUE(w.ok()) << w.status();
    return std::move(*c);
  }

  TempDir dir_;
  TestCa ca_;
  ServerOptions options_;
};

// Next live chat message seen by `c`, or an empty one on timeout.
v1::ChatMessage NextMessage(ChatClient& c) {
  const absl::Time deadline = absl::Now() + kTimeout;
  while (absl::Now() < deadline) {
    auto ev = c.NextEvent(deadline - absl::Now());
    if (!ev.ok()) break;
    if (ev->has_chat_message() && !ev->chat_message().replay()) return ev->chat_message();
  }
  return {};
}

// Waits until the server counts `n` connections (its stats are published
// once per loop turn).
bool AwaitConnections(RunningServer& server, size_t n) {
  const absl::Time deadline = absl::Now() + kTimeout;
  while (server.server().connection_count() != n) {
    if (absl::Now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST_P(TlsServer, TlsClientChatsWithACleartextClientInOneRoom) {
  RunningServer server(options_);
  auto alice = TlsLogin(server.port(), "alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->transport(), "TLSv1.3");
  auto bob = ConnectAs(server.port(), "bob");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->transport(), "tcp");

  ASSERT_TRUE(alice->CreateRoom("lobby", kTimeout).ok());
  auto a = alice->JoinRoom("lobby", kTimeout);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = bob->JoinRoom("lobby", kTimeout);
  ASSERT_TRUE(b.ok()) << b.status();

  ASSERT_TRUE(alice->SendAndWait(a->room_id(), "over tls", kTimeout).ok());
  EXPECT_EQ(NextMessage(*bob).text(), "over tls");
  ASSERT_TRUE(bob->SendAndWait(b->room_id(), "in the clear", kTimeout).ok());
  EXPECT_EQ(NextMessage(*alice).text(), "in the clear");
}

TEST_P(TlsServer, ManyLargeMessagesReachATlsMemberIntactAndInOrder) {
  RunningServer server(options_);
  auto alice = ConnectAs(server.port(), "alice");
  auto bob = TlsLogin(server.port(), "bob");
  ASSERT_NE(alice, nullptr);
  ASSERT_NE(bob, nullptr);
  ASSERT_TRUE(alice->CreateRoom("big", kTimeout).ok());
  auto a = alice->JoinRoom("big", kTimeout);
  ASSERT_TRUE(bob->JoinRoom("big", kTimeout).ok());
  ASSERT_TRUE(a.ok());
  // 300 x 8 KB: well past one socket buffer and one TLS record each.
  constexpr int kCount = 300;
  for (int i = 0; i < kCount; ++i) {
    const std::string text = std::to_string(i) + std::string(8000, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(alice->SendAndWait(a->room_id(), text, kTimeout).ok()) << i;
  }
  for (int i = 0; i < kCount; ++i) {
    const v1::ChatMessage m = NextMessage(*bob);
    ASSERT_EQ(m.text(), std::to_string(i) + std::string(8000, static_cast<char>('a' + i % 26))) << i;
  }
}

TEST_P(TlsServer, ClientThatDoesNotTrustTheServerFailsClearlyAndOthersCarryOn) {
  RunningServer server(options_);
  TestCa other("another CA");
  ClientTlsOptions wrong;
  wrong.enabled = true;
  wrong.ca_file = dir_.Write("other-ca.crt", other.cert_pem());
  auto refused = ChatClient::Connect("localhost", server.port(), kTimeout, wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("certificate is not trusted"), absl::string_view::npos)
      << refused.status();

  ClientTlsOptions wrong_name = Trusting();
  wrong_name.server_name = "chat.example.org";
  auto mismatch = ChatClient::Connect("localhost", server.port(), kTimeout, wrong_name);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("does not match host chat.example.org"), absl::string_view::npos)
      << mismatch.status();

  auto alice = TlsLogin(server.port(), "alice");
  ASSERT_NE(alice, nullptr);
  auto pong = alice->Ping(7, kTimeout);
  ASSERT_TRUE(pong.ok()) << pong.status();
}

// An HTTP exchange over TLS, offering `alpn` (wire format; empty: none).
std::string HttpOverTls(uint16_t port, const std::string& alpn) {
  const int fd = RawConnect(port);
  timeval bound{10, 0};  // blocking OpenSSL calls below: never hang the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!alpn.empty()) {
    SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
  }
  std::unique_ptr<SSL, void (*)(SSL*)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  std::string response;
  if (SSL_connect(ssl.get()) == 1) {
    const std::string request = "GET /nowhere HTTP/1.1\r\nHost: localhost\r\n\r\n";
    size_t written = 0;
    SSL_write_ex(ssl.get(), request.data(), request.size(), &written);
    char buf[4096];
    size_t n = 0;
    while (SSL_read_ex(ssl.get(), buf, sizeof buf, &n) == 1) response.append(buf, n);
  }
  ::close(fd);
  return response;
}

TEST_P(TlsServer, HttpInsideTlsIsToldByAlpnOrByItsFirstByte) {
  RunningServer server(options_);
  const std::string with_alpn = HttpOverTls(server.port(), std::string("\x08http/1.1", 9));
  EXPECT_EQ(with_alpn.rfind("HTTP/1.1 404", 0), 0u) << with_alpn;
  const std::string without_alpn = HttpOverTls(server.port(), "");
  EXPECT_EQ(without_alpn.rfind("HTTP/1.1 404", 0), 0u) << without_alpn;
}

TEST_P(TlsServer, CleartextFromLoopbackIsStillServedWithRequireTls) {
  options_.require_tls = true;
  RunningServer server(options_);
  auto bob = ConnectAs(server.port(), "bob");
  ASSERT_NE(bob, nullptr);
  EXPECT_TRUE(bob->Ping(1, kTimeout).ok());
}

TEST_P(TlsServer, RequireTlsRefusesCleartextSayingWhyInItsOwnProtocol) {
  options_.require_tls = true;
  options_.cleartext_from_loopback = false;  // as if the peer were remote
  RunningServer server(options_);
  auto tls = TlsLogin(server.port(), "secure");
  ASSERT_NE(tls, nullptr);

  auto plain = ChatClient::Connect("127.0.0.1", server.port(), kTimeout);
  ASSERT_TRUE(plain.ok());
  auto w = (*plain)->Hello("plain", kTimeout);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("TLS only"), absl::string_view::npos) << w.status();

  const int http = RawConnect(server.port());
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(http, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  const std::string response = ReadUntilEof(http);
  EXPECT_EQ(response.rfind("HTTP/1.1 403", 0), 0u) << response;
  ::close(http);
  EXPECT_TRUE(tls->Ping(4, kTimeout).ok());
}

TEST_P(TlsServer, HostileTlsStartsEndWithoutDisturbingAChattingPair) {
  options_.handshake_timeout = absl::Milliseconds(300);
  RunningServer server(options_);
  auto alice = TlsLogin(server.port(), "alice");
  auto bob = ConnectAs(server.port(), "bob");
  ASSERT_NE(alice, nullptr);
  ASSERT_NE(bob, nullptr);
  ASSERT_TRUE(alice->CreateRoom("r", kTimeout).ok());
  auto a = alice->JoinRoom("r", kTimeout);
  ASSERT_TRUE(bob->JoinRoom("r", kTimeout).ok());

  // Garbage after the record type: closed.
  const int garbage = RawConnect(server.port());
  const std::string junk = "\x16\x03\x01\x00\x20" + std::string(32, '\xff');
  ASSERT_EQ(::write(garbage, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  // A ClientHello cut short, then EOF: closed.
  const int cut = RawConnect(server.port());
  const std::string partial = std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(40, 'x');
  ASSERT_EQ(::write(cut, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  ::shutdown(cut, SHUT_WR);
  // A handshake that never finishes (and a client that never reads):
  // the handshake timeout ends it.
  const int stalled = RawConnect(server.port());
  ASSERT_EQ(::write(stalled, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));

  // A real ClientHello from a client that then never reads the server's
  // answer nor finishes: the handshake timeout ends it too.
  const int silent = RawConnect(server.port());
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  std::unique_ptr<SSL, void (*)(SSL*)> hello_only(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(hello_only.get(), silent);
  ::fcntl(silent, F_SETFL, O_NONBLOCK);
  EXPECT_NE(SSL_do_handshake(hello_only.get()), 1);  // ClientHello sent; wants to read
  ::fcntl(silent, F_SETFL, 0);

  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(alice->SendAndWait(a->room_id(), "m" + std::to_string(i), kTimeout).ok());
    EXPECT_EQ(NextMessage(*bob).text(), "m" + std::to_string(i));
  }
  ReadUntilEof(garbage);
  ReadUntilEof(cut);
  ReadUntilEof(stalled);
  EXPECT_FALSE(ReadUntilEof(silent).empty());  // the server's flight, then its close
  ::close(silent);
  ::close(garbage);
  ::close(cut);
  ::close(stalled);
  EXPECT_TRUE(alice->Ping(2, kTimeout).ok());
  EXPECT_TRUE(AwaitConnections(server, 2));  // back to the chatting pair
}

TEST_P(TlsServer, RenegotiationAttemptEndsOnlyThatConnection) {
  RunningServer server(options_);
  auto alice = TlsLogin(server.port(), "alice");
  ASSERT_NE(alice, nullptr);
  const int fd = RawConnect(server.port());
  timeval bound{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);  // TLS 1.3 has no renegotiation
  std::unique_ptr<SSL, void (*)(SSL*)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  ASSERT_EQ(SSL_connect(ssl.get()), 1);
  ASSERT_EQ(SSL_renegotiate(ssl.get()), 1);
  EXPECT_NE(SSL_do_handshake(ssl.get()), 1);
  char c;
  size_t n = 0;
  EXPECT_NE(SSL_read_ex(ssl.get(), &c, 1, &n), 1);  // ended, not left hanging
  ::close(fd);
  EXPECT_TRUE(alice->Ping(3, kTimeout).ok());
  EXPECT_TRUE(AwaitConnections(server, 1));
}

INSTANTIATE_TEST_SUITE_P(Pollers, TlsServer, ::testing::Values("epoll", "poll"));

}  // namespace
}  // namespace muxchat::server::testing
