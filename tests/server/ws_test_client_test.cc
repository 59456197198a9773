// The WebSocket pieces composed as muxchatd will compose them, over a real
// socket pair: a fake server thread answers the upgrade with
// AcceptWebSocketUpgrade and reads frames with WebSocketDecoder, and
// WsTestClient (the helper for server and adversarial tests) talks to it.
#include "tests/server/ws_test_client.h"

#include <sys/socket.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace muxchat::server::testing {
namespace {

constexpr absl::Duration kWait = absl::Seconds(10);

// Reads a request head, answers the upgrade, then serves frames: a protocol
// ping gets a pong, a WebSocket ping a pong, a Close an echoed Close, a
// violation a Close with the decoder's code.
void FakeServer(int fd, OriginPolicy policy) {
  wire::Buffer in;
  auto read_some = [&]() {
    in.EnsureWritable(4096);
    const ssize_t n = ::recv(fd, in.BeginWrite(), 4096, 0);
    if (n <= 0) return false;
    in.CommitWrite(static_cast<size_t>(n));
    return true;
  };
  auto write_all = [&](absl::string_view b) { (void)::send(fd, b.data(), b.size(), MSG_NOSIGNAL); };
  size_t end;
  while ((end = in.View().find("\r\n\r\n")) == absl::string_view::npos) {
    if (!read_some()) return;
  }
  WebSocketUpgradeRequest req;
  std::vector<std::string> lines = absl::StrSplit(in.View().substr(0, end), "\r\n");
  in.Consume(end + 4);
  req.is_get = absl::StartsWith(lines[0], "GET ");
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    const std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    const std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    if (name == "host") req.host = value;
    if (name == "origin") req.origin = value;
    if (name == "connection") req.connection = value;
    if (name == "upgrade") req.upgrade = value;
    if (name == "sec-websocket-key") req.sec_websocket_key = value;
    if (name == "sec-websocket-version") req.sec_websocket_version = value;
  }
  absl::StatusOr<std::string> accepted = AcceptWebSocketUpgrade(req, policy);
  if (!accepted.ok()) {
    write_all(BuildUpgradeRejection(accepted.status()));
    return;
  }
  write_all(*accepted);
  wire::WebSocketDecoder decoder(64 * 1024);
  while (true) {
    wire::WsEvent ev;
    absl::StatusOr<bool> got = decoder.Next(&in, &ev);
    wire::Buffer out;
    if (!got.ok()) {
      wire::AppendWsClose(decoder.close_code(), got.status().message(), &out);
      write_all(out.View());
      return;
    }
    if (!*got) {
      if (!read_some()) return;
      continue;
    }
    switch (ev.kind) {
      case wire::WsEvent::Kind::kPing:
        wire::AppendWsServerFrame(wire::WsOpcode::kPong, ev.payload, &out);
        break;
      case wire::WsEvent::Kind::kPong:
        break;
      case wire::WsEvent::Kind::kClose:
        wire::AppendWsClose(ev.close_code == wire::kWsCloseNoStatus ? 0 : ev.close_code, "", &out);
        write_all(out.View());
        return;
      case wire::WsEvent::Kind::kMessage: {
        v1::ClientFrame f;
        if (!f.ParseFromArray(ev.payload.data(), static_cast<int>(ev.payload.size()))) return;
        v1::ServerFrame reply;
        reply.set_request_id(f.request_id());
        reply.mutable_pong()->set_nonce(f.ping().nonce());
        wire::AppendWsServerFrame(wire::WsOpcode::kBinary, reply.SerializeAsString(), &out);
        break;
      }
    }
    write_all(out.View());
  }
}

class WebSocketOverSocket : public ::testing::Test {
 protected:
  void Start(OriginPolicy policy = {}) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    server_fd_ = sv[1];
    server_ = std::thread([fd = sv[1], policy] { FakeServer(fd, policy); });
    client_ = std::make_unique<WsTestClient>(sv[0]);
  }
  void TearDown() override {
    client_.reset();  // closing our end ends the fake server's reads
    if (server_.joinable()) server_.join();
    if (server_fd_ >= 0) ::close(server_fd_);
  }
  void Upgrade() {
    ASSERT_TRUE(client_->SendUpgrade("chat.example:7000", "http://chat.example:7000").ok());
    ASSERT_TRUE(client_->FinishHandshake(kWait).ok());
  }

  int server_fd_ = -1;
  std::thread server_;
  std::unique_ptr<WsTestClient> client_;
};

TEST_F(WebSocketOverSocket, HandshakeThenOneFramePerMessage) {
  Start();
  Upgrade();
  v1::ClientFrame ping;
  ping.set_request_id(5);
  ping.mutable_ping()->set_nonce(77);
  ASSERT_TRUE(client_->Send(ping).ok());
  absl::StatusOr<WsTestClient::Received> r = client_->Read(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->closed);
  EXPECT_EQ(r->frame.request_id(), 5u);
  EXPECT_EQ(r->frame.pong().nonce(), 77u);
}

TEST_F(WebSocketOverSocket, ForeignOriginIsRefusedWith403) {
  Start();
  ASSERT_TRUE(client_->SendUpgrade("chat.example:7000", "https://evil.example").ok());
  std::string head;
  EXPECT_FALSE(client_->FinishHandshake(kWait, &head).ok());
  EXPECT_TRUE(absl::StartsWith(head, "HTTP/1.1 403 ")) << head;
}

TEST_F(WebSocketOverSocket, TextMessageIsClosedWith1003) {
  Start();
  Upgrade();
  ASSERT_TRUE(client_->SendControl(wire::WsOpcode::kText, "hello").ok());
  absl::StatusOr<WsTestClient::Received> r = client_->Read(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->closed);
  EXPECT_EQ(r->close_code, wire::kWsCloseUnsupportedData);
}

TEST_F(WebSocketOverSocket, UnmaskedFrameIsClosedWith1002) {
  Start();
  Upgrade();
  ASSERT_TRUE(client_->Raw(std::string("\x82\x02hi", 4)).ok());
  absl::StatusOr<WsTestClient::Received> r = client_->Read(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->closed);
  EXPECT_EQ(r->close_code, wire::kWsCloseProtocolError);
}

TEST_F(WebSocketOverSocket, HugeLengthIsClosedWith1009BeforeAnyPayload) {
  Start();
  Upgrade();
  ASSERT_TRUE(client_->Raw(std::string("\x82\xff\x00\x00\x00\x01\x00\x00\x00\x00\x01\x02\x03\x04", 14)).ok());
  absl::StatusOr<WsTestClient::Received> r = client_->Read(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->closed);
  EXPECT_EQ(r->close_code, wire::kWsCloseMessageTooBig);
}

TEST_F(WebSocketOverSocket, PingIsAnsweredWithSamePayload) {
  Start();
  Upgrade();
  ASSERT_TRUE(client_->SendControl(wire::WsOpcode::kPing, "abc").ok());
  ASSERT_TRUE(client_->SendControl(wire::WsOpcode::kClose, std::string("\x03\xe8", 2)).ok());
  absl::StatusOr<WsTestClient::Received> r = client_->Read(kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->closed);  // the pong came first, then the echoed Close
  EXPECT_EQ(r->close_code, wire::kWsCloseNormal);
  EXPECT_EQ(client_->last_pong(), "abc");
}

}  // namespace
}  // namespace muxchat::server::testing
