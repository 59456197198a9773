// ChatService driven through in-memory connections (no sockets): each test
// feeds requests and decodes exactly what each connection would receive.
#include "src/server/chat_service.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "src/wire/frame_codec.h"
#include "tests/wire/decode_all.h"

namespace muxchat::server {
namespace {

class ChatServiceTest : public ::testing::Test {
 protected:
  void Start() { service_ = std::make_unique<ChatService>(options_, &logger_); }
  void SetUp() override { Start(); }

  Connection* NewConnection() {
    conns_.push_back(std::make_unique<Connection>(next_id_++, -1, "mem", now_, options_.max_output_bytes, &dirty_));
    return conns_.back().get();
  }

  void Request(Connection* c, v1::ClientFrame f) {
    if (f.request_id() == 0) f.set_request_id(++next_request_);
    service_->HandleFrame(c, f, now_);
  }

  // Everything queued for `c` so far, decoded; the queue is emptied.
  std::vector<v1::ServerFrame> Take(Connection* c) {
    std::string bytes;
    c->output().CopyTo(&bytes);
    c->output().Consume(bytes.size());
    size_t leftover = 0;
    auto out = wire::testing::DecodeAll<v1::ServerFrame>(bytes, &leftover);
    EXPECT_EQ(leftover, 0u);
    return out;
  }

  v1::ServerFrame TakeOne(Connection* c) {
    auto frames = Take(c);
    EXPECT_EQ(frames.size(), 1u);
    return frames.empty() ? v1::ServerFrame() : frames[0];
  }

  Connection* LogIn(const std::string& nick) {
    Connection* c = NewConnection();
    v1::ClientFrame f;
    f.mutable_hello()->set_nickname(nick);
    f.mutable_hello()->set_protocol_version(1);
    Request(c, f);
    EXPECT_TRUE(TakeOne(c).has_welcome());
    return c;
  }

  v1::Reply Create(Connection* c, const std::string& name) {
    v1::ClientFrame f;
    f.mutable_create_room()->set_name(name);
    Request(c, f);
    return TakeOne(c).reply();
  }

  // Joins and returns the reply plus whatever followed (replay).
  std::vector<v1::ServerFrame> Join(Connection* c, const std::string& name) {
    v1::ClientFrame f;
    f.mutable_join_room()->set_name(name);
    Request(c, f);
    return Take(c);
  }

  void Send(Connection* c, uint64_t room, const std::string& text) {
    v1::ClientFrame f;
    f.set_room_id(room);
    f.mutable_send_message()->set_text(text);
    Request(c, f);
  }

  ServerOptions options_;
  Logger logger_{LogLevel::kOff};
  std::unique_ptr<ChatService> service_;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<Connection*> dirty_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  uint64_t next_id_ = 100;
  uint64_t next_request_ = 0;
};

TEST_F(ChatServiceTest, RequestBeforeHelloIsAHandshakeError) {
  Connection* c = NewConnection();
  v1::ClientFrame f;
  f.mutable_list_rooms();
  Request(c, f);
  v1::ServerFrame out = TakeOne(c);
  ASSERT_TRUE(out.has_error());
  EXPECT_EQ(out.error().status(), v1::FAILURE_HANDSHAKE);
  EXPECT_TRUE(c->closing());
}

TEST_F(ChatServiceTest, VersionMismatchClosesWithClearError) {
  Connection* c = NewConnection();
  v1::ClientFrame f;
  f.mutable_hello()->set_nickname("alice");
  f.mutable_hello()->set_protocol_version(2);
  Request(c, f);
  v1::ServerFrame out = TakeOne(c);
  ASSERT_TRUE(out.has_error());
  EXPECT_EQ(out.error().status(), v1::FAILURE_VERSION_MISMATCH);
  EXPECT_NE(out.error().message().find("protocol version 2"), std::string::npos);
  EXPECT_TRUE(c->closing());
}

TEST_F(ChatServiceTest, WelcomeCarriesSessionAndLimits) {
  Connection* c = NewConnection();
  v1::ClientFrame f;
  f.set_request_id(77);
  f.mutable_hello()->set_nickname("alice");
  f.mutable_hello()->set_protocol_version(1);
  service_->HandleFrame(c, f, now_);
  v1::ServerFrame out = TakeOne(c);
  EXPECT_EQ(out.request_id(), 77u);
  EXPECT_EQ(out.welcome().session_id(), c->id());
  EXPECT_EQ(out.welcome().limits().max_frame_bytes(), options_.max_frame_bytes);
  EXPECT_EQ(out.welcome().limits().history(), options_.history);
}

TEST_F(ChatServiceTest, NicknamesAreUniqueCaseInsensitivelyAndRetryWorks) {
  LogIn("Alice");
  Connection* c = NewConnection();
  v1::ClientFrame f;
  f.mutable_hello()->set_nickname("alice");
  f.mutable_hello()->set_protocol_version(1);
  Request(c, f);
  EXPECT_EQ(TakeOne(c).reply().status(), v1::FAILURE_ALREADY_EXISTS);
  EXPECT_FALSE(c->closing());
  f.mutable_hello()->set_nickname("alice2");
  Request(c, f);
  EXPECT_TRUE(TakeOne(c).has_welcome());
}

TEST_F(ChatServiceTest, InvalidNicknameIsRefusedButConnectionStays) {
  Connection* c = NewConnection();
  v1::ClientFrame f;
  f.mutable_hello()->set_nickname("bad name");
  f.mutable_hello()->set_protocol_version(1);
  Request(c, f);
  EXPECT_EQ(TakeOne(c).reply().status(), v1::FAILURE_INVALID);
  EXPECT_FALSE(c->closing());
}

TEST_F(ChatServiceTest, SendReachesEveryMemberSenderIncludedInOneOrder) {
  Connection* a = LogIn("a");
  Connection* b = LogIn("b");
  const uint64_t room = Create(a, "lobby").room_id();
  Join(a, "lobby");
  Join(b, "lobby");
  Take(a);  // b's join event
  Send(a, room, "one");
  Send(b, room, "two");
  for (Connection* c : {a, b}) {
    auto frames = Take(c);
    ASSERT_EQ(frames.size(), 2u);
    EXPECT_EQ(frames[0].chat_message().text(), "one");
    EXPECT_EQ(frames[0].chat_message().seq(), 1u);
    EXPECT_EQ(frames[0].chat_message().sender(), "a");
    EXPECT_EQ(frames[1].chat_message().seq(), 2u);
    EXPECT_EQ(frames[1].room_id(), room);
    EXPECT_EQ(frames[1].request_id(), 0u);
    EXPECT_FALSE(frames[1].chat_message().replay());
  }
}

TEST_F(ChatServiceTest, SendToRoomNotJoinedOrUnknownIsRefused) {
  Connection* a = LogIn("a");
  const uint64_t room = Create(a, "lobby").room_id();
  Send(a, room, "hi");
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_NOT_MEMBER);
  Send(a, 9999, "hi");
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_NOT_EXISTS);
}

TEST_F(ChatServiceTest, EmptyOrOversizedTextIsInvalid) {
  options_.max_text_bytes = 10;
  Start();
  Connection* a = LogIn("a");
  const uint64_t room = Create(a, "lobby").room_id();
  Join(a, "lobby");
  Send(a, room, "");
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_INVALID);
  Send(a, room, std::string(11, 'x'));
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_INVALID);
}

TEST_F(ChatServiceTest, JoinAnswersThenReplaysHistoryThenLive) {
  options_.history = 3;
  Start();
  Connection* a = LogIn("a");
  const uint64_t room = Create(a, "lobby").room_id();
  Join(a, "lobby");
  for (int i = 1; i <= 5; ++i) Send(a, room, "m" + std::to_string(i));
  Take(a);
  Connection* b = LogIn("b");
  auto frames = Join(b, "lobby");
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].reply().status(), v1::SUCCESS);
  EXPECT_EQ(frames[0].reply().member_count(), 2u);
  EXPECT_EQ(frames[0].reply().history_count(), 3u);
  EXPECT_EQ(frames[0].reply().last_seq(), 5u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(frames[1 + i].chat_message().replay());
    EXPECT_EQ(frames[1 + i].chat_message().seq(), static_cast<uint64_t>(3 + i));
  }
  Send(a, room, "live");
  auto live = Take(b);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].chat_message().seq(), 6u);
  EXPECT_FALSE(live[0].chat_message().replay());
}

TEST_F(ChatServiceTest, JoinTellsOtherMembersButNotTheJoiner) {
  Connection* a = LogIn("a");
  Create(a, "lobby");
  Join(a, "lobby");
  Connection* b = LogIn("b");
  Join(b, "lobby");
  v1::ServerFrame ev = TakeOne(a);
  ASSERT_TRUE(ev.has_member_joined());
  EXPECT_EQ(ev.member_joined().nickname(), "b");
  EXPECT_EQ(ev.member_joined().member_count(), 2u);
  EXPECT_TRUE(Take(b).empty());
}

TEST_F(ChatServiceTest, JoiningTwiceSucceedsAndChangesNothing) {
  Connection* a = LogIn("a");
  Create(a, "lobby");
  Join(a, "lobby");
  Connection* b = LogIn("b");
  Join(b, "lobby");
  Take(a);
  auto again = Join(b, "lobby");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].reply().status(), v1::SUCCESS);
  EXPECT_EQ(again[0].reply().member_count(), 2u);
  EXPECT_TRUE(Take(a).empty());
}

TEST_F(ChatServiceTest, JoinByIdWorksAndUnknownIsNotExists) {
  Connection* a = LogIn("a");
  const uint64_t room = Create(a, "lobby").room_id();
  v1::ClientFrame f;
  f.set_room_id(room);
  f.mutable_join_room();
  Request(a, f);
  EXPECT_EQ(TakeOne(a).reply().room_name(), "lobby");
  f.set_room_id(room + 100);
  Request(a, f);
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_NOT_EXISTS);
}

TEST_F(ChatServiceTest, OnlyTheOwnerMayDelete) {
  Connection* a = LogIn("a");
  Connection* b = LogIn("b");
  Create(a, "lobby");
  v1::ClientFrame f;
  f.mutable_delete_room()->set_name("LOBBY");
  Request(b, f);
  EXPECT_EQ(TakeOne(b).reply().status(), v1::FAILURE_PERMISSION_DENIED);
  Request(a, f);
  EXPECT_EQ(TakeOne(a).reply().status(), v1::SUCCESS);
}

TEST_F(ChatServiceTest, DeleteWarnsMembersFirstThenFreesNameAndKillsId) {
  Connection* a = LogIn("a");
  Connection* b = LogIn("b");
  const uint64_t room = Create(a, "lobby").room_id();
  Join(a, "lobby");
  Join(b, "lobby");
  Take(a);
  v1::ClientFrame f;
  f.mutable_delete_room()->set_name("lobby");
  Request(a, f);
  auto owner = Take(a);
  ASSERT_EQ(owner.size(), 2u);
  EXPECT_TRUE(owner[0].has_room_closed());
  EXPECT_EQ(owner[1].reply().status(), v1::SUCCESS);
  v1::ServerFrame warned = TakeOne(b);
  ASSERT_TRUE(warned.has_room_closed());
  EXPECT_EQ(warned.room_id(), room);
  EXPECT_EQ(warned.room_closed().closed_by(), "a");
  EXPECT_TRUE(b->rooms().empty());
  Send(b, room, "anyone?");
  EXPECT_EQ(TakeOne(b).reply().status(), v1::FAILURE_NOT_EXISTS);
  EXPECT_NE(Create(b, "lobby").room_id(), room);
}

TEST_F(ChatServiceTest, LeaveTellsOthersAndStopsDelivery) {
  Connection* a = LogIn("a");
  Connection* b = LogIn("b");
  const uint64_t room = Create(a, "lobby").room_id();
  Join(a, "lobby");
  Join(b, "lobby");
  Take(a);
  v1::ClientFrame f;
  f.set_room_id(room);
  f.mutable_leave_room();
  Request(b, f);
  EXPECT_EQ(TakeOne(b).reply().member_count(), 1u);
  v1::ServerFrame left = TakeOne(a);
  EXPECT_EQ(left.member_left().nickname(), "b");
  EXPECT_EQ(left.member_left().reason(), "left");
  Send(a, room, "x");
  EXPECT_TRUE(Take(b).empty());
  Request(b, f);
  EXPECT_EQ(TakeOne(b).reply().status(), v1::FAILURE_NOT_MEMBER);
}

TEST_F(ChatServiceTest, DisconnectLeavesAllRoomsAndFreesNickname) {
  Connection* a = LogIn("a");
  Connection* b = LogIn("b");
  Create(a, "r1");
  Create(a, "r2");
  Join(a, "r1");
  Join(a, "r2");
  Join(b, "r1");
  Join(b, "r2");
  Take(a);
  b->Close(CloseReason::kClientClosed);
  service_->OnDisconnect(b);
  auto events = Take(a);
  ASSERT_EQ(events.size(), 2u);
  for (const auto& e : events) {
    EXPECT_EQ(e.member_left().nickname(), "b");
    EXPECT_EQ(e.member_left().reason(), "disconnected");
  }
  EXPECT_EQ(service_->rooms().FindByName("r1")->member_count(), 1u);
  LogIn("B");  // nickname free again
}

TEST_F(ChatServiceTest, ListReportsEveryRoom) {
  Connection* a = LogIn("a");
  Create(a, "beta");
  Create(a, "alpha");
  Join(a, "alpha");
  Send(a, service_->rooms().FindByName("alpha")->id(), "hi");
  Take(a);
  v1::ClientFrame f;
  f.mutable_list_rooms();
  Request(a, f);
  v1::Reply r = TakeOne(a).reply();
  ASSERT_EQ(r.rooms_size(), 2);
  EXPECT_EQ(r.rooms(0).name(), "alpha");
  EXPECT_EQ(r.rooms(0).member_count(), 1u);
  EXPECT_EQ(r.rooms(0).owner(), "a");
  EXPECT_EQ(r.rooms(0).message_count(), 1u);
  EXPECT_EQ(r.rooms(0).created_unix_micros(), absl::ToUnixMicros(now_));
  EXPECT_EQ(r.rooms(1).name(), "beta");
}

TEST_F(ChatServiceTest, ListIsCutToFitAFrameAndSaysSo) {
  options_.max_frame_bytes = 2048;
  Start();
  Connection* a = LogIn("a");
  for (int i = 0; i < 100; ++i) Create(a, "room-with-a-longish-name-" + std::to_string(1000 + i));
  v1::ClientFrame f;
  f.mutable_list_rooms();
  Request(a, f);
  v1::ServerFrame out = TakeOne(a);
  EXPECT_LE(out.ByteSizeLong(), options_.max_frame_bytes);
  EXPECT_GT(out.reply().rooms_size(), 0);
  EXPECT_LT(out.reply().rooms_size(), 100);
  EXPECT_EQ(out.reply().total_rooms(), 100u);
  EXPECT_EQ(out.reply().rooms(0).name(), "room-with-a-longish-name-1000");
}

TEST_F(ChatServiceTest, BroadcastIsEncodedOnceWhateverTheMemberCount) {
  Connection* a = LogIn("sender");
  const uint64_t room = Create(a, "big").room_id();
  Join(a, "big");
  std::vector<Connection*> members;
  for (int i = 0; i < 200; ++i) {
    members.push_back(LogIn("m" + std::to_string(i)));
    Join(members.back(), "big");
  }
  for (auto& c : conns_) Take(c.get());
  const uint64_t before = wire::SharedFrame::AllocationCount();
  for (int i = 0; i < 10; ++i) Send(a, room, "to everyone " + std::to_string(i));
  // At most one new block for all ten broadcasts: nothing per member...
  EXPECT_LE(wire::SharedFrame::AllocationCount() - before, 1u);
  // ...and every member's queue points at the very same bytes, not a copy.
  const char* shared = members[0]->output().FrontData();
  ASSERT_NE(shared, nullptr);
  for (Connection* m : members) {
    EXPECT_EQ(m->output().FrontData(), shared);
    EXPECT_EQ(m->output().SegmentCount(), 1u);  // ten consecutive frames, one range
  }
  for (Connection* m : members) {
    auto got = Take(m);
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(got[9].chat_message().text(), "to everyone 9");
  }
}

TEST_F(ChatServiceTest, AQuietRoomsReaderPinsFewBlocksWhateverTheBusyRoomsSend) {
  options_.messages_per_second = 0;
  Start();
  Connection* talker = LogIn("talker");
  Connection* slow = LogIn("slow");
  const uint64_t busy = Create(talker, "busy").room_id();
  const uint64_t quiet = Create(talker, "quiet").room_id();
  Join(talker, "busy");
  Join(talker, "quiet");
  Join(slow, "quiet");
  Take(talker);
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 66; ++i) Send(talker, busy, std::string(1000, 'b'));  // about one block
    Send(talker, quiet, "q");
    Take(talker);  // the talker keeps up; slow never reads
  }
  // 200 small frames, each in a different block: only a bounded number of
  // blocks may stay alive for them; the rest were copied.
  EXPECT_LE(slow->output().SliceSegmentCount(), wire::OutputQueue::kMaxSliceSegments);
  auto got = Take(slow);
  ASSERT_EQ(got.size(), 200u);
  EXPECT_EQ(got.back().chat_message().seq(), 200u);
}

TEST_F(ChatServiceTest, SlowConsumerIsDroppedWhileOthersGetEverything) {
  options_.max_output_bytes = 4096;
  Start();
  Connection* a = LogIn("a");
  Connection* fast = LogIn("fast");
  Connection* slow = LogIn("slow");
  const uint64_t room = Create(a, "lobby").room_id();
  for (Connection* c : {a, fast, slow}) Join(c, "lobby");
  Take(a);
  Take(fast);
  Take(slow);
  for (int i = 0; i < 100; ++i) {
    Send(a, room, std::string(100, 'x'));
    Take(a);
    auto got = Take(fast);  // fast reads everything as it comes
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].chat_message().seq(), static_cast<uint64_t>(i + 1));
    if (slow->closing() && !slow->disconnected) {
      slow->disconnected = true;
      service_->OnDisconnect(slow);
      auto left = Take(fast);
      ASSERT_EQ(left.size(), 1u);
      EXPECT_EQ(left[0].member_left().reason(), "slow consumer");
      Take(a);
    }
  }
  EXPECT_TRUE(slow->closing());
  EXPECT_EQ(slow->close_reason(), CloseReason::kSlowConsumer);
  EXPECT_LE(slow->output().PendingBytes(), options_.max_output_bytes + 256);
}

TEST_F(ChatServiceTest, RateLimitRefusesThenDisconnectsAFlooder) {
  options_.messages_per_second = 1;
  options_.message_burst = 2;
  options_.max_rate_violations = 3;
  Start();
  // Hello, Create and Join take tokens too: let the bucket refill between them.
  Connection* a = LogIn("a");
  now_ += absl::Seconds(1);
  const uint64_t room = Create(a, "lobby").room_id();
  now_ += absl::Seconds(1);
  Join(a, "lobby");
  now_ += absl::Seconds(2);
  Send(a, room, "1");
  Send(a, room, "2");
  EXPECT_EQ(Take(a).size(), 2u);
  Send(a, room, "3");
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_RATE_LIMITED);
  now_ += absl::Seconds(1);
  Send(a, room, "4");  // a token came back, but the bucket is not half full:
  EXPECT_EQ(TakeOne(a).chat_message().text(), "4");  // the earlier refusal still counts
  Send(a, room, "5");
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_RATE_LIMITED);
  EXPECT_FALSE(a->closing());
  Send(a, room, "6");  // the third refusal since the client last slowed down
  EXPECT_TRUE(a->closing());
  EXPECT_EQ(a->close_reason(), CloseReason::kFlooding);
}

TEST_F(ChatServiceTest, SteadyFloodAboveTheRateIsDroppedDespiteOccasionalSuccesses) {
  options_.messages_per_second = 10;
  options_.message_burst = 10;
  options_.max_rate_violations = 20;
  Start();
  Connection* a = LogIn("a");
  const uint64_t room = Create(a, "lobby").room_id();
  Join(a, "lobby");
  // Three requests every 100 ms against a refill of one per 100 ms: one gets
  // through each round, two are refused, and the bucket never recovers.
  int rounds = 0;
  while (!a->closing() && rounds < 100) {
    now_ += absl::Milliseconds(100);
    for (int i = 0; i < 3; ++i) Send(a, room, "spam");
    Take(a);
    ++rounds;
  }
  EXPECT_TRUE(a->closing());
  EXPECT_EQ(a->close_reason(), CloseReason::kFlooding);
  EXPECT_LT(rounds, 20);
}

TEST_F(ChatServiceTest, AClientThatBacksOffIsForgiven) {
  options_.messages_per_second = 10;
  options_.message_burst = 10;
  options_.max_rate_violations = 5;
  Start();
  Connection* a = LogIn("a");
  const uint64_t room = Create(a, "lobby").room_id();
  Join(a, "lobby");
  now_ += absl::Seconds(1);
  for (int burst = 0; burst < 10; ++burst) {
    for (int i = 0; i < 14; ++i) Send(a, room, "burst");  // a few over the bucket each time
    Take(a);
    now_ += absl::Seconds(1);  // then quiet long enough to refill
  }
  EXPECT_FALSE(a->closing());
}

TEST_F(ChatServiceTest, EveryRequestCountsAgainstTheRateNotOnlySends) {
  options_.messages_per_second = 1;
  options_.message_burst = 3;
  Start();
  Connection* a = LogIn("a");  // the Hello takes the first token
  v1::ClientFrame list;
  list.mutable_list_rooms();
  for (int i = 0; i < 2; ++i) {
    Request(a, list);
    EXPECT_EQ(TakeOne(a).reply().status(), v1::SUCCESS);
  }
  Request(a, list);
  v1::Reply refused = TakeOne(a).reply();
  EXPECT_EQ(refused.status(), v1::FAILURE_RATE_LIMITED);
  EXPECT_NE(refused.message().find("requests per second"), std::string::npos);
  // A repeated Hello is a request like any other: refused too, not answered.
  v1::ClientFrame hello;
  hello.mutable_hello()->set_nickname("a");
  hello.mutable_hello()->set_protocol_version(1);
  Request(a, hello);
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_RATE_LIMITED);
  now_ += absl::Seconds(1);
  Request(a, list);
  EXPECT_EQ(TakeOne(a).reply().status(), v1::SUCCESS);
}

TEST_F(ChatServiceTest, RoomsPerConnectionAndMembersPerRoomAreBounded) {
  options_.max_rooms_per_connection = 1;
  options_.max_members_per_room = 1;
  Start();
  Connection* a = LogIn("a");
  Connection* b = LogIn("b");
  Create(a, "r1");
  Create(a, "r2");
  EXPECT_EQ(Join(a, "r1")[0].reply().status(), v1::SUCCESS);
  EXPECT_EQ(Join(a, "r2")[0].reply().status(), v1::FAILURE_LIMIT_REACHED);
  EXPECT_EQ(Join(b, "r1")[0].reply().status(), v1::FAILURE_LIMIT_REACHED);
}

TEST_F(ChatServiceTest, EmptyRequestIsInvalidNotFatal) {
  Connection* a = LogIn("a");
  Request(a, v1::ClientFrame());
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_INVALID);
  EXPECT_FALSE(a->closing());
}

TEST_F(ChatServiceTest, PingIsAnsweredWithSameNonce) {
  Connection* a = LogIn("a");
  v1::ClientFrame f;
  f.set_request_id(5);
  f.mutable_ping()->set_nonce(1234);
  service_->HandleFrame(a, f, now_);
  v1::ServerFrame out = TakeOne(a);
  EXPECT_EQ(out.request_id(), 5u);
  EXPECT_EQ(out.pong().nonce(), 1234u);
}

}  // namespace
}  // namespace muxchat::server
