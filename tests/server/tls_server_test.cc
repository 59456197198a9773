// TLS on the server's one port, end to end with real sockets, for both
// pollers: a TLS client (the client library, trusting a test CA) chats with
// a cleartext client in one room; a client that does not trust the server
// fails with a clear error; hostile TLS starts end without costing a
// chatting pair anything.
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>
#include <string>

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

TEST_P(TlsServer, HttpOverTlsIsAnsweredInsideTls) {
  RunningServer server(options_);
  const int fd = RawConnect(server.port());
  timeval bound{10, 0};  // blocking OpenSSL calls below: never hang the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx.get(), alpn, sizeof alpn);
  std::unique_ptr<SSL, void (*)(SSL*)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  ASSERT_EQ(SSL_connect(ssl.get()), 1);
  const std::string request = "GET /nowhere HTTP/1.1\r\nHost: localhost\r\n\r\n";
  size_t written = 0;
  ASSERT_EQ(SSL_write_ex(ssl.get(), request.data(), request.size(), &written), 1);
  std::string response;
  char buf[4096];
  size_t n = 0;
  while (SSL_read_ex(ssl.get(), buf, sizeof buf, &n) == 1) response.append(buf, n);
  EXPECT_EQ(response.rfind("HTTP/1.1 404", 0), 0u) << response;
  ::close(fd);
}

TEST_P(TlsServer, CleartextFromLoopbackIsStillServedWithRequireTls) {
  options_.require_tls = true;
  RunningServer server(options_);
  auto bob = ConnectAs(server.port(), "bob");
  ASSERT_NE(bob, nullptr);
  EXPECT_TRUE(bob->Ping(1, kTimeout).ok());
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

  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(alice->SendAndWait(a->room_id(), "m" + std::to_string(i), kTimeout).ok());
    EXPECT_EQ(NextMessage(*bob).text(), "m" + std::to_string(i));
  }
  ReadUntilEof(garbage);
  ReadUntilEof(cut);
  ReadUntilEof(stalled);
  ::close(garbage);
  ::close(cut);
  ::close(stalled);
  EXPECT_TRUE(alice->Ping(2, kTimeout).ok());
}

INSTANTIATE_TEST_SUITE_P(Pollers, TlsServer, ::testing::Values("epoll", "poll"));

}  // namespace
}  // namespace muxchat::server::testing
