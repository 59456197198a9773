// ChatService driven through in-memory connections (no sockets): each test
// feeds requests and decodes exactly what each connection would receive.
#include "src/server/chat_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/wire/frame_codec.h"
#include "tests/server/chat_service_fixture.h"
#include "tests/wire/decode_all.h"

namespace muxchat::server {
namespace {

class ChatServiceTest : public testing::ChatServiceFixture {
 protected:
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
  Send(a, room, "6");  // the third refusal since the client last slowed down: still answered
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_RATE_LIMITED);
  EXPECT_FALSE(a->closing());
  v1::ClientFrame seventh;
  seventh.set_request_id(4242);
  seventh.set_room_id(room);
  seventh.mutable_send_message()->set_text("7");
  Request(a, seventh);  // one over max_rate_violations refusals
  EXPECT_TRUE(a->closing());
  EXPECT_EQ(a->close_reason(), CloseReason::kFlooding);
  v1::ServerFrame error = TakeOne(a);
  ASSERT_TRUE(error.has_error());
  EXPECT_EQ(error.error().status(), v1::FAILURE_RATE_LIMITED);
  EXPECT_EQ(error.request_id(), 4242u);  // the request that tipped it over
}

TEST_F(ChatServiceTest, FloodingDisconnectsAfterExactlyMaxRateViolationsRefusals) {
  options_.messages_per_second = 1;
  options_.message_burst = 1;
  options_.max_rate_violations = 1000;
  Start();
  Connection* a = LogIn("a");  // takes the only token; time stands still from here
  v1::ClientFrame list;
  list.mutable_list_rooms();
  int refused = 0;
  while (!a->closing() && refused < 2000) {
    Request(a, list);
    for (const v1::ServerFrame& out : Take(a)) {
      if (out.has_reply() && out.reply().status() == v1::FAILURE_RATE_LIMITED) ++refused;
    }
  }
  EXPECT_TRUE(a->closing());
  EXPECT_EQ(refused, 1000);
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

// ------------------------------------------------ the protocol contract (§12, §16)

TEST_F(ChatServiceTest, DefaultOptionsAreConsistent) { EXPECT_TRUE(ChatService::CheckOptions(options_).ok()); }

TEST_F(ChatServiceTest, TextsThatCannotFitAFrameAreRefusedAtStart) {
  options_.max_frame_bytes = 1024;  // the default max_text_bytes (16384) cannot fit
  absl::Status st = ChatService::CheckOptions(options_);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--max_text_bytes"), std::string::npos) << st;
  options_.max_frame_bytes = 100;  // not even the protocol's own frames fit
  st = ChatService::CheckOptions(options_);
  EXPECT_NE(st.message().find("too small"), std::string::npos) << st;
}

TEST_F(ChatServiceTest, EveryServerFrameFitsTheAnnouncedMaxFrameBytes) {
  options_.max_frame_bytes = 1024;
  // The largest text the check lets through, and it is tight: one more fails.
  options_.max_text_bytes = 1024;
  while (!ChatService::CheckOptions(options_).ok()) --options_.max_text_bytes;
  ASSERT_GT(options_.max_text_bytes, 800u);
  options_.max_text_bytes += 1;
  EXPECT_FALSE(ChatService::CheckOptions(options_).ok());
  options_.max_text_bytes -= 1;
  Start();
  const std::string nick(32, 'n');  // the longest nickname and room name
  const std::string name(options_.max_room_name_bytes, 'r');
  Connection* a = LogIn(nick);
  const uint64_t room = Create(a, name).room_id();
  Join(a, name);
  v1::ClientFrame send;
  send.set_room_id(room);
  send.mutable_send_message()->set_text(std::string(options_.max_text_bytes, 'x'));
  EXPECT_LE(send.ByteSizeLong(), options_.max_frame_bytes);  // the client's side fits too
  Request(a, send);
  v1::ServerFrame echo = TakeOne(a);
  ASSERT_TRUE(echo.has_chat_message());
  EXPECT_LE(echo.ByteSizeLong(), options_.max_frame_bytes);
  Connection* b = LogIn("b");
  for (const v1::ServerFrame& f : Join(b, name)) EXPECT_LE(f.ByteSizeLong(), options_.max_frame_bytes);
}

TEST_F(ChatServiceTest, ARateLimitedPingIsStillAnsweredWithPong) {
  options_.messages_per_second = 1;
  options_.message_burst = 1;
  Start();
  Connection* a = LogIn("a");  // takes the only token
  v1::ClientFrame ping;
  ping.mutable_ping()->set_nonce(99);
  Request(a, ping);
  v1::ServerFrame out = TakeOne(a);
  ASSERT_TRUE(out.has_pong());
  EXPECT_EQ(out.pong().nonce(), 99u);
  EXPECT_EQ(a->rate_violations(), 1u);  // still counts toward flooding
}

TEST_F(ChatServiceTest, SubSecondKeepaliveIsNotAnnouncedAsNever) {
  options_.keepalive_interval = absl::Milliseconds(500);
  Start();
  EXPECT_EQ(service_->limits().keepalive_seconds(), 1u);
  EXPECT_EQ(service_->limits().keepalive_millis(), 500u);
  options_.keepalive_interval = absl::ZeroDuration();
  Start();
  EXPECT_EQ(service_->limits().keepalive_seconds(), 0u);
  EXPECT_EQ(service_->limits().keepalive_millis(), 0u);
}

TEST_F(ChatServiceTest, FailuresAboutAnExistingRoomNameItInTheEnvelope) {
  options_.max_members_per_room = 1;
  Start();
  Connection* a = LogIn("a");
  Connection* b = LogIn("b");
  const uint64_t room = Create(a, "lobby").room_id();
  Join(a, "lobby");
  auto full = Join(b, "lobby");  // by name, envelope room_id 0
  ASSERT_EQ(full.size(), 1u);
  EXPECT_EQ(full[0].reply().status(), v1::FAILURE_LIMIT_REACHED);
  EXPECT_EQ(full[0].room_id(), room);
  EXPECT_EQ(full[0].reply().room_id(), room);
  v1::ClientFrame del;
  del.mutable_delete_room()->set_name("LOBBY");
  Request(b, del);
  v1::ServerFrame denied = TakeOne(b);
  EXPECT_EQ(denied.reply().status(), v1::FAILURE_PERMISSION_DENIED);
  EXPECT_EQ(denied.room_id(), room);
  v1::ClientFrame create;
  create.mutable_create_room()->set_name("Lobby");
  Request(b, create);
  v1::ServerFrame taken = TakeOne(b);
  EXPECT_EQ(taken.reply().status(), v1::FAILURE_ALREADY_EXISTS);
  EXPECT_EQ(taken.room_id(), room);
  v1::ClientFrame join;
  join.mutable_join_room()->set_name("nowhere");
  Request(b, join);
  EXPECT_EQ(TakeOne(b).room_id(), 0u);  // no such room: nothing to name
}

TEST_F(ChatServiceTest, FatalErrorsCarryTheRequestIdThatCausedThem) {
  Connection* c = NewConnection();
  v1::ClientFrame f;
  f.set_request_id(31);
  f.mutable_list_rooms();
  service_->HandleFrame(c, f, now_);
  v1::ServerFrame out = TakeOne(c);
  ASSERT_TRUE(out.has_error());
  EXPECT_EQ(out.error().status(), v1::FAILURE_HANDSHAKE);
  EXPECT_EQ(out.request_id(), 31u);
}

TEST_F(ChatServiceTest, AKnownFieldWithTheWrongWireTypeIsAProtocolError) {
  Connection* a = LogIn("a");
  // request_id 5, then field 16 (send_message) as a varint instead of a message.
  v1::ClientFrame f;
  ASSERT_TRUE(f.ParseFromString(std::string("\x08\x05\x80\x01\x07", 5)));  // protobuf accepts it...
  EXPECT_EQ(f.body_case(), v1::ClientFrame::BODY_NOT_SET);                  // ...as an unknown field
  service_->HandleFrame(a, f, now_);
  v1::ServerFrame out = TakeOne(a);
  ASSERT_TRUE(out.has_error());
  EXPECT_EQ(out.error().status(), v1::FAILURE_PROTOCOL);
  EXPECT_EQ(out.request_id(), 5u);
  EXPECT_EQ(a->close_reason(), CloseReason::kProtocolError);
}

TEST_F(ChatServiceTest, AMistypedFieldInsideTheBodyIsAProtocolErrorToo) {
  Connection* a = LogIn("a");
  // send_message { text (field 1) as varint 7 }.
  v1::ClientFrame f;
  ASSERT_TRUE(f.ParseFromString(std::string("\x08\x06\x82\x01\x02\x08\x07", 7)));
  ASSERT_TRUE(f.has_send_message());
  service_->HandleFrame(a, f, now_);
  v1::ServerFrame out = TakeOne(a);
  ASSERT_TRUE(out.has_error());
  EXPECT_EQ(out.error().status(), v1::FAILURE_PROTOCOL);
}

TEST_F(ChatServiceTest, AnUnknownFieldNumberIsStillIgnored) {
  Connection* a = LogIn("a");
  v1::ClientFrame f;  // list_rooms{} plus field 99 (varint 1): a newer client's extra
  ASSERT_TRUE(f.ParseFromString(std::string("\x08\x07\x7a\x00\x98\x06\x01", 7)));
  ASSERT_TRUE(f.has_list_rooms());
  service_->HandleFrame(a, f, now_);
  EXPECT_EQ(TakeOne(a).reply().status(), v1::SUCCESS);
}

TEST_F(ChatServiceTest, AnOverlongRoomNameIsNotEchoedBack) {
  Connection* a = LogIn("a");
  v1::ClientFrame f;
  f.mutable_join_room()->set_name(std::string(60000, 'x'));
  Request(a, f);
  v1::ServerFrame out = TakeOne(a);
  EXPECT_EQ(out.reply().status(), v1::FAILURE_NOT_EXISTS);
  EXPECT_LT(out.ByteSizeLong(), 200u);
}

// ------------------------------------------------------------ ListRooms paging

class ListRoomsTest : public ChatServiceTest {
 protected:
  // Every page from the start, following next_cursor; each page is checked
  // against max_frame_bytes and total_rooms.
  std::vector<v1::RoomInfo> ListAll(Connection* c, const std::string& prefix, uint32_t limit, uint32_t total,
                                    int* pages) {
    std::vector<v1::RoomInfo> all;
    std::string cursor;
    *pages = 0;
    do {
      v1::ClientFrame f;
      f.mutable_list_rooms()->set_after(cursor);
      f.mutable_list_rooms()->set_name_prefix(prefix);
      f.mutable_list_rooms()->set_limit(limit);
      Request(c, f);
      v1::ServerFrame out = TakeOne(c);
      EXPECT_LE(out.ByteSizeLong(), options_.max_frame_bytes);
      EXPECT_EQ(out.reply().total_rooms(), total);
      if (total > 0) {
        EXPECT_GT(out.reply().rooms_size(), 0);
      }
      if (limit > 0) {
        EXPECT_LE(out.reply().rooms_size(), static_cast<int>(limit));
      }
      for (const v1::RoomInfo& r : out.reply().rooms()) all.push_back(r);
      cursor = out.reply().next_cursor();
      ++*pages;
    } while (!cursor.empty() && *pages < 10000);
    return all;
  }

  void SetUp() override {
    options_.messages_per_second = 0;  // thousands of requests in no time
    Start();
  }
};

TEST_F(ListRoomsTest, RoomsAreSortedByCaseFoldedName) {
  Connection* a = LogIn("a");
  for (const char* name : {"beta", "Zed", "apple", "Alpha2", "alpha"}) Create(a, name);
  int pages = 0;
  auto all = ListAll(a, "", 0, 5, &pages);
  std::vector<std::string> names;
  for (const auto& r : all) names.push_back(r.name());
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "Alpha2", "apple", "beta", "Zed"}));
  EXPECT_EQ(pages, 1);
}

TEST_F(ListRoomsTest, PagesThroughMoreThanTwoThousandRooms) {
  Connection* a = LogIn("a");
  constexpr int kRooms = 2008;
  for (int i = 0; i < kRooms; ++i) Create(a, absl::StrCat("room-with-a-longish-name-", 100000 + i * 7 % kRooms));
  int pages = 0;
  auto all = ListAll(a, "", 0, kRooms, &pages);
  ASSERT_EQ(all.size(), static_cast<size_t>(kRooms));
  EXPECT_GT(pages, 1);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].name(), all[i].name());
}

TEST_F(ListRoomsTest, SmallFramesStillPageThroughEverything) {
  options_.max_frame_bytes = 1024;
  options_.max_text_bytes = 256;
  ASSERT_TRUE(ChatService::CheckOptions(options_).ok());
  Start();
  Connection* a = LogIn(std::string(32, 'o'));  // the longest owner
  for (int i = 0; i < 300; ++i) Create(a, absl::StrCat(std::string(60, 'n'), 1000 + i));  // near the longest names
  int pages = 0;
  EXPECT_EQ(ListAll(a, "", 0, 300, &pages).size(), 300u);
  EXPECT_GT(pages, 30);
}

TEST_F(ListRoomsTest, PrefixAndLimitSelectAPage) {
  Connection* a = LogIn("a");
  for (const char* name : {"dev-core", "DEV-docs", "dev-ops", "devil", "ops", "dev"}) Create(a, name);
  int pages = 0;
  auto dev = ListAll(a, "Dev-", 2, 3, &pages);
  ASSERT_EQ(dev.size(), 3u);
  EXPECT_EQ(dev[0].name(), "dev-core");
  EXPECT_EQ(dev[1].name(), "DEV-docs");
  EXPECT_EQ(dev[2].name(), "dev-ops");
  EXPECT_EQ(pages, 2);
  EXPECT_TRUE(ListAll(a, "nothing", 0, 0, &pages).empty());
}

TEST_F(ListRoomsTest, ACursorSurvivesTheDeletionOfItsRoom) {
  Connection* a = LogIn("a");
  for (const char* name : {"a1", "a2", "a3", "a4"}) Create(a, name);
  v1::ClientFrame f;
  f.mutable_list_rooms()->set_limit(2);
  Request(a, f);
  v1::Reply first = TakeOne(a).reply();
  ASSERT_EQ(first.rooms_size(), 2);
  ASSERT_FALSE(first.next_cursor().empty());
  v1::ClientFrame del;
  del.mutable_delete_room()->set_name("a2");
  Request(a, del);
  Take(a);
  f.mutable_list_rooms()->set_after(first.next_cursor());
  Request(a, f);
  v1::Reply second = TakeOne(a).reply();
  ASSERT_EQ(second.rooms_size(), 2);
  EXPECT_EQ(second.rooms(0).name(), "a3");
  EXPECT_EQ(second.rooms(1).name(), "a4");
  EXPECT_TRUE(second.next_cursor().empty());
}

// ------------------------------------------------------------------ PostMessage

TEST_F(ChatServiceTest, APostReachesMembersWithoutJoinOrLeaveEvents) {
  Connection* owner = LogIn("owner");
  const uint64_t room = Create(owner, "news").room_id();
  Connection* listener = LogIn("listener");
  Join(listener, "news");
  Connection* poster = LogIn("poster");
  v1::ClientFrame post;
  post.set_request_id(9);
  post.mutable_post_message()->set_room_name("NEWS");
  post.mutable_post_message()->set_text("hello from outside");
  service_->HandleFrame(poster, post, now_);
  v1::ServerFrame reply = TakeOne(poster);  // the Reply is the acknowledgement; no echo
  EXPECT_EQ(reply.request_id(), 9u);
  EXPECT_EQ(reply.room_id(), room);
  EXPECT_EQ(reply.reply().status(), v1::SUCCESS);
  EXPECT_EQ(reply.reply().last_seq(), 1u);
  v1::ServerFrame got = TakeOne(listener);  // exactly the message, nothing else
  ASSERT_TRUE(got.has_chat_message());
  EXPECT_EQ(got.room_id(), room);
  EXPECT_EQ(got.chat_message().sender(), "poster");
  EXPECT_EQ(got.chat_message().text(), "hello from outside");
  EXPECT_EQ(got.chat_message().seq(), 1u);
  service_->OnDisconnect(poster);
  EXPECT_TRUE(Take(listener).empty());  // and no member_left either
  EXPECT_EQ(service_->rooms().FindById(room)->member_count(), 1u);
}

TEST_F(ChatServiceTest, APostByRoomIdWorksAndAMemberPosterGetsTheReplyBeforeItsCopy) {
  Connection* a = LogIn("a");
  const uint64_t room = Create(a, "news").room_id();
  Join(a, "news");
  v1::ClientFrame post;
  post.set_room_id(room);
  post.mutable_post_message()->set_text("mine");
  Request(a, post);
  auto frames = Take(a);
  ASSERT_EQ(frames.size(), 2u);
  ASSERT_TRUE(frames[0].has_reply());
  EXPECT_EQ(frames[0].reply().last_seq(), 1u);
  EXPECT_EQ(frames[1].chat_message().seq(), 1u);
}

TEST_F(ChatServiceTest, APostIsRefusedLikeASend) {
  Connection* a = LogIn("a");
  const uint64_t room = Create(a, "news").room_id();
  v1::ClientFrame post;
  post.mutable_post_message()->set_room_name("nowhere");
  post.mutable_post_message()->set_text("x");
  Request(a, post);
  EXPECT_EQ(TakeOne(a).reply().status(), v1::FAILURE_NOT_EXISTS);
  post.mutable_post_message()->set_room_name("news");
  post.mutable_post_message()->set_text("");
  Request(a, post);
  v1::ServerFrame empty = TakeOne(a);
  EXPECT_EQ(empty.reply().status(), v1::FAILURE_INVALID);
  EXPECT_EQ(empty.room_id(), room);
  EXPECT_EQ(service_->rooms().FindById(room)->last_seq(), 0u);
}

}  // namespace
}  // namespace muxchat::server
