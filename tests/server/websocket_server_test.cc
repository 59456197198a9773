// WebSocket on the chat port, end to end against an in-process Server on
// both pollers: a WebSocket member and a TCP member are the same to the chat
// (same room, same order, replies), and the connection ends with the Close
// code PROTOCOL.md §17.3 gives for the server's reason.
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/server_fixture.h"
#include "tests/server/ws_test_client.h"

namespace muxchat::server::testing {
namespace {

class WebSocketServer : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    ServerOptions o;
    o.poller = GetParam();
    o.shutdown_grace = absl::Milliseconds(300);
    server_ = std::make_unique<RunningServer>(o);
  }
  uint16_t port() { return server_->port(); }

  // A WebSocket client that has completed the upgrade and logged in.
  std::unique_ptr<WsTestClient> WsLogin(const std::string& nick) {
    auto ws = std::make_unique<WsTestClient>(RawConnect(port()));
    EXPECT_TRUE(ws->SendUpgrade(absl::StrCat("127.0.0.1:", port())).ok());
    EXPECT_TRUE(ws->FinishHandshake(kTimeout).ok());
    v1::ClientFrame hello;
    hello.set_request_id(1);
    hello.mutable_hello()->set_nickname(nick);
    hello.mutable_hello()->set_protocol_version(1);
    EXPECT_TRUE(ws->Send(hello).ok());
    auto welcome = ws->Read(kTimeout);
    EXPECT_TRUE(welcome.ok() && welcome->frame.has_welcome()) << (welcome.ok() ? welcome->frame.DebugString() : welcome.status().ToString());
    return ws;
  }
  // The next chat message, skipping replies, presence and replays.
  v1::ChatMessage NextChat(WsTestClient* ws) {
    for (int i = 0; i < 100; ++i) {
      auto got = ws->Read(kTimeout);
      if (!got.ok() || got->closed) {
        ADD_FAILURE() << "no chat message: " << (got.ok() ? "closed" : got.status().ToString());
        return {};
      }
      if (got->frame.has_chat_message() && !got->frame.chat_message().replay()) return got->frame.chat_message();
    }
    ADD_FAILURE() << "no chat message in 100 frames";
    return {};
  }

  std::unique_ptr<RunningServer> server_;
};

TEST_P(WebSocketServer, AWebSocketAndATcpMemberSeeOneRoomInOneOrder) {
  auto tcp = ConnectAs(port(), "tcpuser");
  ASSERT_NE(tcp, nullptr);
  ASSERT_TRUE(tcp->CreateRoom("mixed", kTimeout).ok());
  auto joined = tcp->JoinRoom("mixed", kTimeout);
  ASSERT_TRUE(joined.ok()) << joined.status();
  const uint64_t room = joined->room_id();

  auto ws = WsLogin("browser");
  v1::ClientFrame join;
  join.set_request_id(2);
  join.mutable_join_room()->set_name("mixed");
  ASSERT_TRUE(ws->Send(join).ok());
  for (;;) {  // joined before anyone speaks
    auto got = ws->Read(kTimeout);
    ASSERT_TRUE(got.ok() && !got->closed) << (got.ok() ? "closed" : got.status().ToString());
    if (got->frame.has_reply() && got->frame.request_id() == 2) {
      ASSERT_EQ(got->frame.reply().status(), v1::SUCCESS);
      break;
    }
  }

  // Interleaved senders: both members must see the same sequence.
  for (int i = 0; i < 20; ++i) {
    if (i % 2 == 0) {
      ASSERT_TRUE(tcp->SendAndWait(room, absl::StrCat("tcp ", i), kTimeout).ok());
    } else {
      v1::ClientFrame send;
      send.set_request_id(100 + i);
      send.set_room_id(room);
      send.mutable_send_message()->set_text(absl::StrCat("ws ", i));
      ASSERT_TRUE(ws->Send(send).ok());
    }
  }
  std::vector<std::string> seen_ws;
  for (int i = 0; i < 20; ++i) {
    const v1::ChatMessage m = NextChat(ws.get());
    seen_ws.push_back(absl::StrCat(m.seq(), ":", m.text()));
  }
  // The TCP member's own sends were answered to SendAndWait, not queued as
  // events: it has the WebSocket member's 10 as events.
  std::vector<std::string> seen_tcp;
  while (seen_tcp.size() < 10) {
    auto ev = tcp->NextEvent(kTimeout);
    ASSERT_TRUE(ev.ok()) << ev.status();
    if (ev->has_chat_message() && !ev->chat_message().replay()) {
      seen_tcp.push_back(absl::StrCat(ev->chat_message().seq(), ":", ev->chat_message().text()));
    }
  }
  // The TCP client's own acknowledged sends are not events: compare on the
  // WebSocket side's full view, which must hold the TCP view in order.
  size_t at = 0;
  for (const std::string& s : seen_ws) {
    if (at < seen_tcp.size() && seen_tcp[at] == s) ++at;
  }
  EXPECT_EQ(seen_ws.size(), 20u);
  for (size_t i = 0; i < seen_ws.size(); ++i) EXPECT_TRUE(absl::StartsWith(seen_ws[i], absl::StrCat(i + 1, ":"))) << seen_ws[i];
  EXPECT_EQ(at, seen_tcp.size()) << "the TCP member's view is not the WebSocket member's order";
}

TEST_P(WebSocketServer, AWebSocketPingIsAnsweredWithItsPayload) {
  auto ws = WsLogin("pinger");
  ASSERT_TRUE(ws->SendControl(wire::WsOpcode::kPing, "are you there").ok());
  // A request after the ping: its reply proves the ping was read first.
  v1::ClientFrame list;
  list.set_request_id(9);
  list.mutable_list_rooms();
  ASSERT_TRUE(ws->Send(list).ok());
  auto reply = ws->Read(kTimeout);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(ws->last_pong(), "are you there");
}

TEST_P(WebSocketServer, ShutdownSendsTheNoticeThenCloseGoingAway) {
  auto ws = WsLogin("leaver");
  server_->StopGracefully();
  bool notice = false;
  for (int i = 0; i < 10; ++i) {
    auto got = ws->Read(kTimeout);
    ASSERT_TRUE(got.ok()) << got.status();
    if (got->closed) {
      EXPECT_TRUE(notice) << "Close before the shutdown notice";
      EXPECT_EQ(got->close_code, wire::kWsCloseGoingAway);
      return;
    }
    if (got->frame.has_shutdown()) notice = true;
  }
  ADD_FAILURE() << "no Close";
}

TEST_P(WebSocketServer, AClientCloseIsEchoedAndTheConnectionEnds) {
  auto ws = WsLogin("polite");
  std::string code = {static_cast<char>(0x03), static_cast<char>(0xE8)};  // 1000
  ASSERT_TRUE(ws->SendControl(wire::WsOpcode::kClose, code).ok());
  auto got = ws->Read(kTimeout);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->closed);
  EXPECT_EQ(got->close_code, wire::kWsCloseNormal);
}

TEST_P(WebSocketServer, AWebSocketMemberThatFallsBehindGetsEveryBroadcastWholeAndInOrder) {
  // A browser that stops reading while its room is busy: more than the
  // kernel buffers, so the server's writes to it stop at whatever byte the
  // kernel takes, inside framed broadcasts of every header size, while the
  // WebSocket Pings and requests it sent meanwhile queue Pongs and replies
  // among them. Read at last, everything is there, whole and in order.
  ServerOptions o;
  o.poller = GetParam();
  o.max_frame_bytes = 128 * 1024;
  o.max_text_bytes = 100 * 1000;
  o.soft_output_bytes = 0;  // nothing dropped: every broadcast must arrive
  server_ = std::make_unique<RunningServer>(o);
  auto tcp = ConnectAs(port(), "busy");
  ASSERT_NE(tcp, nullptr);
  ASSERT_TRUE(tcp->CreateRoom("busy", kTimeout).ok());
  auto joined = tcp->JoinRoom("busy", kTimeout);
  ASSERT_TRUE(joined.ok()) << joined.status();
  const uint64_t room = joined->room_id();
  auto ws = WsLogin("behind");
  v1::ClientFrame join;
  join.set_request_id(2);
  join.mutable_join_room()->set_name("busy");
  ASSERT_TRUE(ws->Send(join).ok());
  for (;;) {
    auto got = ws->Read(kTimeout);
    ASSERT_TRUE(got.ok() && !got->closed) << (got.ok() ? "closed" : got.status().ToString());
    if (got->frame.has_reply() && got->frame.request_id() == 2) break;
  }

  // Messages with 2-, 4- and 10-byte WebSocket headers, ~7 MB in all.
  constexpr int kMessages = 320;
  constexpr int kEvery = 20;
  auto text = [](int i) {
    static constexpr size_t kSizes[] = {100, 1000, 20000, 70000};
    return absl::StrCat(i, ":", std::string(kSizes[i % 4], static_cast<char>('a' + i % 26)));
  };
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(tcp->SendAndWait(room, text(i), kTimeout).ok());
    if (i % kEvery == 0) {
      ASSERT_TRUE(ws->SendControl(wire::WsOpcode::kPing, absl::StrCat("p", i)).ok());
      v1::ClientFrame ping;
      ping.set_request_id(1000 + i);
      ping.mutable_ping()->set_nonce(i);
      ASSERT_TRUE(ws->Send(ping).ok());
    }
  }
  {
    // The server is holding bytes for it: its writes stopped short.
    const int fd = RawConnect(port());
    const std::string get = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ASSERT_EQ(::write(fd, get.data(), get.size()), static_cast<ssize_t>(get.size()));
    const std::string metrics = ReadUntilEof(fd);
    ::close(fd);
    const std::string key = "\nmuxchat_output_backlog_max_bytes ";
    const size_t at = metrics.find(key);
    ASSERT_NE(at, std::string::npos) << metrics;
    EXPECT_GT(std::stoull(metrics.substr(at + key.size())), 64u * 1024) << metrics.substr(at, 60);
  }
  int next = 0, pongs = 0;
  while (next < kMessages) {
    auto got = ws->Read(kTimeout);
    ASSERT_TRUE(got.ok() && !got->closed) << (got.ok() ? "closed" : got.status().ToString()) << " after " << next;
    ASSERT_FALSE(got->frame.has_gap());
    if (got->frame.has_pong()) {
      EXPECT_EQ(got->frame.pong().nonce(), static_cast<uint64_t>(pongs * kEvery));
      ++pongs;
      continue;
    }
    if (!got->frame.has_chat_message()) continue;
    const v1::ChatMessage& m = got->frame.chat_message();
    ASSERT_EQ(m.seq(), static_cast<uint64_t>(next + 1));
    ASSERT_EQ(m.text(), text(next));
    ++next;
  }
  // Every request answered, and every WebSocket Ping: the last Pongs may
  // still be behind the last broadcast.
  for (int k = 0; k < 100 && (pongs < kMessages / kEvery || ws->pong_count() < size_t{kMessages / kEvery}); ++k) {
    v1::ClientFrame list;
    list.set_request_id(7);
    list.mutable_list_rooms();
    ASSERT_TRUE(ws->Send(list).ok());
    auto got = ws->Read(kTimeout);
    ASSERT_TRUE(got.ok() && !got->closed) << (got.ok() ? "closed" : got.status().ToString());
    if (got->frame.has_pong()) ++pongs;
  }
  EXPECT_EQ(pongs, kMessages / kEvery);
  EXPECT_EQ(ws->pong_count(), size_t{kMessages / kEvery});
  EXPECT_EQ(ws->last_pong(), absl::StrCat("p", kMessages - kEvery));
}

INSTANTIATE_TEST_SUITE_P(Pollers, WebSocketServer, ::testing::Values("epoll", "poll"));

}  // namespace
}  // namespace muxchat::server::testing
