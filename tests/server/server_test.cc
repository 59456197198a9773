// End-to-end tests of a real Server over sockets on 127.0.0.1, run once per
// poller backend.
#include "src/server/server.h"

#include <random>

#include "gtest/gtest.h"
#include "tests/server/server_fixture.h"

namespace muxchat::server {
namespace {

using client::ChatClient;
using testing::ConnectAs;
using testing::DecodeAll;
using testing::kTimeout;
using testing::RawConnect;
using testing::ReadUntilEof;
using testing::RunningServer;

class ServerTest : public ::testing::TestWithParam<const char*> {
 protected:
  ServerOptions Options() {
    ServerOptions o;
    o.poller = GetParam();
    return o;
  }
  void StartServer(ServerOptions o) { server_ = std::make_unique<RunningServer>(std::move(o)); }
  void StartServer() { StartServer(Options()); }
  uint16_t port() const { return server_->port(); }

  // Next event of a given kind, failing on anything else.
  static v1::ServerFrame Next(ChatClient& c) {
    auto ev = c.NextEvent(kTimeout);
    EXPECT_TRUE(ev.ok()) << ev.status();
    return ev.ok() ? *ev : v1::ServerFrame();
  }

  std::unique_ptr<RunningServer> server_;
};

TEST_P(ServerTest, CreateJoinChatListDeleteEndToEnd) {
  StartServer();
  auto alice = ConnectAs(port(), "alice");
  auto bob = ConnectAs(port(), "bob");
  auto created = alice->CreateRoom("lobby", kTimeout);
  ASSERT_TRUE(created.ok()) << created.status();
  const uint64_t room = created->room_id();
  ASSERT_TRUE(alice->JoinRoom("lobby", kTimeout).ok());
  auto joined = bob->JoinRoom("LOBBY", kTimeout);
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->member_count(), 2u);
  EXPECT_EQ(Next(*alice).member_joined().nickname(), "bob");

  auto echo = bob->SendAndWait(room, "hello alice", kTimeout);
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(echo->seq(), 1u);
  v1::ServerFrame got = Next(*alice);
  EXPECT_EQ(got.chat_message().sender(), "bob");
  EXPECT_EQ(got.chat_message().text(), "hello alice");
  EXPECT_GT(got.chat_message().timestamp_unix_micros(), 0);

  auto list = alice->ListRooms(kTimeout);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->rooms_size(), 1);
  EXPECT_EQ(list->rooms(0).member_count(), 2u);
  EXPECT_EQ(list->rooms(0).message_count(), 1u);
  EXPECT_EQ(list->rooms(0).owner(), "alice");

  EXPECT_EQ(bob->DeleteRoom("lobby", kTimeout).status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(alice->DeleteRoom("lobby", kTimeout).ok());
  EXPECT_TRUE(Next(*bob).has_room_closed());
  EXPECT_EQ(server_->server().room_count(), 0u);
}

TEST_P(ServerTest, OneConnectionChatsInSeveralRooms) {
  StartServer();
  auto a = ConnectAs(port(), "a");
  auto b = ConnectAs(port(), "b");
  const uint64_t r1 = a->CreateRoom("r1", kTimeout)->room_id();
  const uint64_t r2 = a->CreateRoom("r2", kTimeout)->room_id();
  for (auto* c : {a.get(), b.get()}) {
    ASSERT_TRUE(c->JoinRoom("r1", kTimeout).ok());
    ASSERT_TRUE(c->JoinRoom("r2", kTimeout).ok());
  }
  ASSERT_TRUE(a->SendAndWait(r1, "in one", kTimeout).ok());
  ASSERT_TRUE(a->SendAndWait(r2, "in two", kTimeout).ok());
  std::vector<std::pair<uint64_t, std::string>> seen;
  while (seen.size() < 2) {
    v1::ServerFrame f = Next(*b);
    if (f.has_chat_message()) seen.emplace_back(f.room_id(), f.chat_message().text());
  }
  EXPECT_EQ(seen[0], std::make_pair(r1, std::string("in one")));
  EXPECT_EQ(seen[1], std::make_pair(r2, std::string("in two")));
}

TEST_P(ServerTest, EveryMemberSeesTheSameGaplessOrder) {
  ServerOptions o = Options();
  o.messages_per_second = 0;
  StartServer(o);
  auto a = ConnectAs(port(), "a");
  auto b = ConnectAs(port(), "b");
  auto c = ConnectAs(port(), "c");
  const uint64_t room = a->CreateRoom("r", kTimeout)->room_id();
  for (auto* x : {a.get(), b.get(), c.get()}) ASSERT_TRUE(x->JoinRoom("r", kTimeout).ok());
  constexpr int kPerSender = 300;
  for (int i = 0; i < kPerSender; ++i) {
    ASSERT_TRUE(a->Send(room, "a" + std::to_string(i)).ok());
    ASSERT_TRUE(b->Send(room, "b" + std::to_string(i)).ok());
  }
  std::vector<std::vector<std::string>> orders(3);
  std::vector<ChatClient*> all = {a.get(), b.get(), c.get()};
  for (int k = 0; k < 3; ++k) {
    uint64_t expect_seq = 1;
    int next_a = 0, next_b = 0;
    while (orders[k].size() < 2 * kPerSender) {
      v1::ServerFrame f = Next(*all[k]);
      if (!f.has_chat_message()) continue;
      ASSERT_EQ(f.chat_message().seq(), expect_seq++);
      const std::string& t = f.chat_message().text();
      // Each sender's own messages keep their order.
      if (t[0] == 'a') {
        EXPECT_EQ(t, "a" + std::to_string(next_a++));
      } else {
        EXPECT_EQ(t, "b" + std::to_string(next_b++));
      }
      orders[k].push_back(t);
    }
  }
  EXPECT_EQ(orders[0], orders[1]);
  EXPECT_EQ(orders[1], orders[2]);
  EXPECT_EQ(a->PendingAcks(), 0u);
  EXPECT_EQ(b->PendingAcks(), 0u);
}

TEST_P(ServerTest, JoinReplaysRecentHistoryMarkedAsReplay) {
  ServerOptions o = Options();
  o.history = 5;
  StartServer(o);
  auto a = ConnectAs(port(), "a");
  const uint64_t room = a->CreateRoom("r", kTimeout)->room_id();
  ASSERT_TRUE(a->JoinRoom("r", kTimeout).ok());
  for (int i = 1; i <= 8; ++i) ASSERT_TRUE(a->SendAndWait(room, "m" + std::to_string(i), kTimeout).ok());
  auto b = ConnectAs(port(), "b");
  auto joined = b->JoinRoom("r", kTimeout);
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->history_count(), 5u);
  for (int i = 4; i <= 8; ++i) {
    v1::ServerFrame f = Next(*b);
    EXPECT_TRUE(f.chat_message().replay());
    EXPECT_EQ(f.chat_message().text(), "m" + std::to_string(i));
  }
  ASSERT_TRUE(a->SendAndWait(room, "live", kTimeout).ok());
  v1::ServerFrame live = Next(*b);
  EXPECT_FALSE(live.chat_message().replay());
  EXPECT_EQ(live.chat_message().seq(), 9u);
}

TEST_P(ServerTest, DeleteWarnsEveryMemberAndFreesTheName) {
  StartServer();
  auto owner = ConnectAs(port(), "owner");
  auto m1 = ConnectAs(port(), "m1");
  auto m2 = ConnectAs(port(), "m2");
  const uint64_t room = owner->CreateRoom("doomed", kTimeout)->room_id();
  ASSERT_TRUE(m1->JoinRoom("doomed", kTimeout).ok());
  ASSERT_TRUE(m2->JoinRoom("doomed", kTimeout).ok());
  Next(*m1);  // m2 joined
  ASSERT_TRUE(owner->DeleteRoom("doomed", kTimeout).ok());
  for (auto* m : {m1.get(), m2.get()}) {
    v1::ServerFrame f = Next(*m);
    ASSERT_TRUE(f.has_room_closed()) << f.DebugString();
    EXPECT_EQ(f.room_id(), room);
    EXPECT_EQ(f.room_closed().closed_by(), "owner");
  }
  EXPECT_EQ(m1->SendAndWait(room, "hello?", kTimeout).status().code(), absl::StatusCode::kNotFound);
  auto again = m1->CreateRoom("doomed", kTimeout);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->room_id(), room);
}

TEST_P(ServerTest, DisconnectRemovesMemberAndTellsTheOthers) {
  StartServer();
  auto a = ConnectAs(port(), "a");
  auto b = ConnectAs(port(), "b");
  a->CreateRoom("r", kTimeout).IgnoreError();
  ASSERT_TRUE(a->JoinRoom("r", kTimeout).ok());
  ASSERT_TRUE(b->JoinRoom("r", kTimeout).ok());
  Next(*a);
  b->Close();
  v1::ServerFrame left = Next(*a);
  ASSERT_TRUE(left.has_member_left());
  EXPECT_EQ(left.member_left().nickname(), "b");
  EXPECT_EQ(left.member_left().member_count(), 1u);
  auto b2 = ConnectAs(port(), "b");  // the nickname is free again
  ASSERT_NE(b2, nullptr);
  EXPECT_EQ(a->ListRooms(kTimeout)->rooms(0).member_count(), 1u);
}

TEST_P(ServerTest, GarbageClosesOnlyTheOffenderWithAnError) {
  StartServer();
  auto a = ConnectAs(port(), "a");
  auto b = ConnectAs(port(), "b");
  const uint64_t room = a->CreateRoom("r", kTimeout)->room_id();
  ASSERT_TRUE(a->JoinRoom("r", kTimeout).ok());
  ASSERT_TRUE(b->JoinRoom("r", kTimeout).ok());
  Next(*a);

  const int bad = RawConnect(port());
  std::string garbage("\x00\x00\x00\x08", 4);
  garbage += std::string("\xff\xff\xff\xff\xff\xff\xff\xff", 8);
  ASSERT_EQ(::write(bad, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  auto frames = DecodeAll(ReadUntilEof(bad));
  ::close(bad);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].error().status(), v1::FAILURE_PROTOCOL);

  auto echo = a->SendAndWait(room, "still here", kTimeout);
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(Next(*b).chat_message().text(), "still here");
}

TEST_P(ServerTest, OversizedLengthClosesWithFrameTooLarge) {
  ServerOptions o = Options();
  o.max_frame_bytes = 1024;
  o.max_text_bytes = 900;  // what fits a 1 KiB frame (ChatService::CheckOptions)
  StartServer(o);
  for (uint32_t length : {1025u, 0xFFFFFFFFu}) {
    const int bad = RawConnect(port());
    char prefix[4];
    wire::EncodeLength(length, prefix);
    ASSERT_EQ(::write(bad, prefix, 4), 4);
    auto frames = DecodeAll(ReadUntilEof(bad));
    ::close(bad);
    ASSERT_EQ(frames.size(), 1u) << length;
    EXPECT_EQ(frames[0].error().status(), v1::FAILURE_FRAME_TOO_LARGE);
  }
  EXPECT_EQ(server_->server().closed_count(CloseReason::kFrameTooLarge), 2u);
}

TEST_P(ServerTest, FragmentedFramesOneByteAtATimeAreUnderstood) {
  StartServer();
  const int fd = RawConnect(port());
  v1::ClientFrame hello;
  hello.set_request_id(9);
  hello.mutable_hello()->set_nickname("slowpoke");
  hello.mutable_hello()->set_protocol_version(1);
  v1::ClientFrame ping;
  ping.set_request_id(10);
  ping.mutable_ping()->set_nonce(99);
  const std::string bytes = wire::EncodeFrameToString(hello) + wire::EncodeFrameToString(ping);
  for (char ch : bytes) ASSERT_EQ(::write(fd, &ch, 1), 1);
  ::shutdown(fd, SHUT_WR);  // half-close: the replies must still arrive
  auto frames = DecodeAll(ReadUntilEof(fd));
  ::close(fd);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].welcome().nickname(), "slowpoke");
  EXPECT_EQ(frames[1].pong().nonce(), 99u);
}

TEST_P(ServerTest, SlowConsumerIsDroppedWhileFastMembersGetEverything) {
  ServerOptions o = Options();
  o.messages_per_second = 0;
  o.max_output_bytes = 256 * 1024;
  StartServer(o);
  auto sender = ConnectAs(port(), "sender");
  auto fast = ConnectAs(port(), "fast");
  const uint64_t room = sender->CreateRoom("r", kTimeout)->room_id();
  ASSERT_TRUE(sender->JoinRoom("r", kTimeout).ok());
  ASSERT_TRUE(fast->JoinRoom("r", kTimeout).ok());
  Next(*sender);

  // The slow member logs in and joins, then never reads again.
  const int slow = RawConnect(port(), /*receive_buffer=*/4096);
  v1::ClientFrame f;
  f.mutable_hello()->set_nickname("slow");
  f.mutable_hello()->set_protocol_version(1);
  std::string bytes = wire::EncodeFrameToString(f);
  f.mutable_join_room()->set_name("r");
  bytes += wire::EncodeFrameToString(f);
  ASSERT_EQ(::write(slow, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));

  const std::string text(1000, 'x');
  constexpr int kBatches = 60, kBatch = 100;  // 6 MB: far past the slow member's queue and socket buffers
  uint64_t expect = 1;
  bool saw_slow_leave = false;
  for (int batch = 0; batch < kBatches; ++batch) {
    for (int i = 0; i < kBatch; ++i) ASSERT_TRUE(sender->Send(room, text).ok());
    int got = 0;
    while (got < kBatch) {
      v1::ServerFrame ev = Next(*fast);
      if (ev.has_member_joined()) continue;
      if (ev.has_member_left()) {
        EXPECT_EQ(ev.member_left().nickname(), "slow");
        EXPECT_EQ(ev.member_left().reason(), "slow consumer");
        saw_slow_leave = true;
        continue;
      }
      ASSERT_EQ(ev.chat_message().seq(), expect++);
      ++got;
    }
    while (sender->PendingAcks() > 0) ASSERT_TRUE(sender->NextEvent(kTimeout).ok());
  }
  EXPECT_TRUE(saw_slow_leave);
  EXPECT_EQ(server_->server().closed_count(CloseReason::kSlowConsumer), 1u);
  ReadUntilEof(slow);  // and the slow member's connection really ends
  ::close(slow);
}

TEST_P(ServerTest, GracefulShutdownNotifiesEveryClient) {
  StartServer();
  auto a = ConnectAs(port(), "a");
  auto b = ConnectAs(port(), "b");
  server_->StopGracefully();
  EXPECT_TRUE(server_->run_status().ok());
  for (auto* c : {a.get(), b.get()}) {
    v1::ServerFrame f = Next(*c);
    EXPECT_TRUE(f.has_shutdown()) << f.DebugString();
    EXPECT_EQ(c->NextEvent(kTimeout).status().code(), absl::StatusCode::kUnavailable);
  }
}

TEST_P(ServerTest, NoHelloInTimeClosesTheConnection) {
  ServerOptions o = Options();
  o.handshake_timeout = absl::Milliseconds(300);
  StartServer(o);
  const int fd = RawConnect(port());
  auto frames = DecodeAll(ReadUntilEof(fd));
  ::close(fd);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].error().status(), v1::FAILURE_TIMEOUT);
}

TEST_P(ServerTest, SilentClientIsDroppedAfterKeepalive) {
  ServerOptions o = Options();
  o.keepalive_interval = absl::Milliseconds(200);
  o.keepalive_timeout = absl::Milliseconds(300);
  StartServer(o);
  const int fd = RawConnect(port());
  v1::ClientFrame f;
  f.mutable_hello()->set_nickname("mute");
  f.mutable_hello()->set_protocol_version(1);
  const std::string bytes = wire::EncodeFrameToString(f);
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  auto frames = DecodeAll(ReadUntilEof(fd));
  ::close(fd);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_TRUE(frames[0].has_welcome());
  EXPECT_TRUE(frames[1].has_ping());
  EXPECT_EQ(frames[2].error().status(), v1::FAILURE_TIMEOUT);
}

TEST_P(ServerTest, ClientThatAnswersPingsStays) {
  ServerOptions o = Options();
  o.keepalive_interval = absl::Milliseconds(100);
  o.keepalive_timeout = absl::Milliseconds(300);
  StartServer(o);
  auto a = ConnectAs(port(), "a");
  // Several keepalive rounds pass while the client only waits (and so
  // answers pings inside NextEvent).
  EXPECT_EQ(a->NextEvent(absl::Milliseconds(1500)).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(a->Ping(1, kTimeout).ok());
}

TEST_P(ServerTest, ConnectionsBeyondTheLimitAreTurnedAway) {
  ServerOptions o = Options();
  o.max_connections = 2;
  StartServer(o);
  auto a = ConnectAs(port(), "a");
  auto b = ConnectAs(port(), "b");
  const int fd = RawConnect(port());
  auto frames = DecodeAll(ReadUntilEof(fd));
  ::close(fd);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].error().status(), v1::FAILURE_SERVER_FULL);
  EXPECT_TRUE(a->Ping(1, kTimeout).ok());
}

INSTANTIATE_TEST_SUITE_P(Pollers, ServerTest, ::testing::Values("epoll", "poll"));

TEST(ServerListen, ListensOnIpv6Loopback) {
  Logger logger(LogLevel::kOff);
  ServerOptions o;
  o.listen = "[::1]:0";
  auto server = Server::Create(o, &logger);
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << server.status();
  EXPECT_EQ((*server)->bound_address().rfind("[::1]:", 0), 0u) << (*server)->bound_address();
  std::thread t([&] { (*server)->Run().IgnoreError(); });
  auto c = ChatClient::Connect("::1", (*server)->port(), kTimeout);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE((*c)->Hello("six", kTimeout).ok());
  (*server)->RequestShutdown();
  (*server)->RequestShutdown();
  t.join();
}

TEST(ServerListen, BadListenAddressIsAClearError) {
  Logger logger(LogLevel::kOff);
  ServerOptions o;
  o.listen = "nonsense";
  EXPECT_EQ(Server::Create(o, &logger).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace muxchat::server
