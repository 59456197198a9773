#include "src/server/cluster_publisher.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/server/cluster_message.h"
#include "tests/server/redis_process.h"

namespace muxchat::server {
namespace {

using ::muxchat::server::testing::HaveRedisServer;
using ::muxchat::server::testing::RedisProcess;
using ::muxchat::server::testing::RunLoopUntil;

class ClusterPublisherTest : public ::muxchat::server::testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    options_ = ::muxchat::server::testing::TestClusterOptions(redis_.port());
    publisher_ = std::make_unique<ClusterPublisher>(loop_.get(), options_);
    publisher_->SetStatusCallback([this](RedisLinkState state, const absl::Status&) { states_.push_back(state); });
    publisher_->Start();
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return publisher_->up(); }));
  }

  static PublishRequest Message(std::string text, uint64_t client_msg_id = 0) {
    PublishRequest r;
    r.room_id = 5;
    r.sender = "alice";
    r.sender_account_id = 9;
    r.client_msg_id = client_msg_id;
    r.dedupe_scope = "a9";
    r.text = std::move(text);
    return r;
  }

  absl::StatusOr<PublishResult> Publish(const PublishRequest& r) {
    std::optional<absl::StatusOr<PublishResult>> out;
    absl::Status st = publisher_->Publish(r, [&](absl::StatusOr<PublishResult> result) { out = std::move(result); });
    if (!st.ok()) return st;
    if (!RunLoopUntil(loop_.get(), [&] { return out.has_value(); })) return absl::DeadlineExceededError("no reply");
    return *out;
  }

  absl::StatusOr<std::vector<ClusterMessage>> ReadAfter(uint64_t after_seq, uint32_t limit = 100) {
    std::optional<absl::StatusOr<std::vector<ClusterMessage>>> out;
    absl::Status st = publisher_->ReadAfter(5, after_seq, limit, [&](auto result) { out = std::move(result); });
    if (!st.ok()) return st;
    if (!RunLoopUntil(loop_.get(), [&] { return out.has_value(); })) return absl::DeadlineExceededError("no reply");
    return *out;
  }

  // A raw command on a separate link (what an operator or another tool
  // does); its reply as text.
  std::string Raw(const std::vector<std::string>& args) {
    RedisLink other(loop_.get(), options_.redis);
    other.Start();
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return other.up(); }));
    std::optional<std::string> out;
    EXPECT_TRUE(other
                    .Command(args,
                             [&](redisReply* r) {
                               out = r != nullptr && r->str != nullptr ? std::string(r->str, r->len) : "";
                             })
                    .ok());
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return out.has_value(); }));
    return out.value_or("");
  }

  // Queues `requests` in one go (one loop turn, as one client read would)
  // and runs the loop until each has its result, in request order.
  std::vector<absl::StatusOr<PublishResult>> PublishTurn(const std::vector<PublishRequest>& requests) {
    std::vector<std::optional<absl::StatusOr<PublishResult>>> out(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      absl::Status st = publisher_->Publish(requests[i], [&out, i](auto result) { out[i] = std::move(result); });
      if (!st.ok()) out[i] = st;
    }
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] {
      for (const auto& o : out) {
        if (!o.has_value()) return false;
      }
      return true;
    }));
    std::vector<absl::StatusOr<PublishResult>> results;
    for (auto& o : out) results.push_back(o.value_or(absl::DeadlineExceededError("no reply")));
    return results;
  }

  // A raw subscriber to a room's channel (what another node hears): every
  // payload published there, in order.
  struct ChannelTap {
    static void OnPush(redisAsyncContext*, void* reply, void* privdata) {
      auto* tap = static_cast<ChannelTap*>(privdata);
      const auto* r = static_cast<const redisReply*>(reply);
      if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
      const std::string kind(r->element[0]->str, r->element[0]->len);
      if (kind == "subscribe") tap->subscribed = true;
      if (kind == "message") tap->payloads.emplace_back(r->element[2]->str, r->element[2]->len);
    }
    std::unique_ptr<RedisLink> link;
    bool subscribed = false;
    std::vector<std::string> payloads;
  };
  std::unique_ptr<ChannelTap> Tap(uint64_t room_id) {
    auto tap = std::make_unique<ChannelTap>();
    tap->link = std::make_unique<RedisLink>(loop_.get(), options_.redis);
    tap->link->Start();
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return tap->link->up(); }));
    EXPECT_TRUE(tap->link->SubscribeModeCommand({"SUBSCRIBE", RoomChannel("t", room_id)}, &ChannelTap::OnPush,
                                                tap.get())
                    .ok());
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return tap->subscribed; }));
    return tap;
  }

  // The channel's payloads up to and including a marker published after
  // everything before it (Redis delivers one channel in order): what a
  // batch published, and nothing still on its way.
  std::vector<std::string> PayloadsBeforeMarker(ChannelTap* tap, uint64_t room_id) {
    PublishRequest marker = Message("marker");
    marker.room_id = room_id;
    EXPECT_TRUE(Publish(marker).ok());
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] {
      return !tap->payloads.empty() && absl::StrContains(tap->payloads.back(), "6:marker");
    }));
    std::vector<std::string> before = tap->payloads;
    if (!before.empty()) before.pop_back();
    return before;
  }

  ClusterOptions options_;
  std::unique_ptr<ClusterPublisher> publisher_;
  std::vector<RedisLinkState> states_;
};

TEST_F(ClusterPublisherTest, NumbersARoomsMessagesFromOneWithoutGaps) {
  for (uint64_t want = 1; want <= 5; ++want) {
    absl::StatusOr<PublishResult> r = Publish(Message("m" + std::to_string(want)));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->seq, want);
    EXPECT_FALSE(r->duplicate);
    EXPECT_GT(r->timestamp_unix_micros, 1'600'000'000'000'000);
  }
}

TEST_F(ClusterPublisherTest, StoresEachMessageInTheRoomsStream) {
  ASSERT_TRUE(Publish(Message("one", 11)).ok());
  ASSERT_TRUE(Publish(Message(std::string("t\0o", 3))).ok());
  absl::StatusOr<std::vector<ClusterMessage>> got = ReadAfter(0);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].seq, 1u);
  EXPECT_EQ((*got)[0].text, "one");
  EXPECT_EQ((*got)[0].sender, "alice");
  EXPECT_EQ((*got)[0].sender_account_id, 9u);
  EXPECT_EQ((*got)[0].client_msg_id, 11u);
  EXPECT_EQ((*got)[1].text, std::string("t\0o", 3));
}

TEST_F(ClusterPublisherTest, ReadsOnlyAfterTheGivenSeqUpToTheLimit) {
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(Publish(Message("m")).ok());
  absl::StatusOr<std::vector<ClusterMessage>> got = ReadAfter(2, 3);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].seq, 3u);
  EXPECT_EQ((*got)[2].seq, 5u);
}

TEST_F(ClusterPublisherTest, AResendReturnsTheOriginalSeqAndStoresNothing) {
  absl::StatusOr<PublishResult> first = Publish(Message("hello", 77));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(Publish(Message("other")).ok());
  absl::StatusOr<PublishResult> again = Publish(Message("hello", 77));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->seq, first->seq);
  EXPECT_EQ(again->timestamp_unix_micros, first->timestamp_unix_micros);
  absl::StatusOr<std::vector<ClusterMessage>> got = ReadAfter(0);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 2u);
}

TEST_F(ClusterPublisherTest, TheSameClientMsgIdFromAnotherScopeIsANewMessage) {
  ASSERT_TRUE(Publish(Message("hello", 77)).ok());
  PublishRequest other = Message("hello", 77);
  other.dedupe_scope = "g-node1-conn4";
  absl::StatusOr<PublishResult> r = Publish(other);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(r->seq, 2u);
}

TEST_F(ClusterPublisherTest, RefusesAClientMsgIdWithoutAScope) {
  PublishRequest r = Message("x", 3);
  r.dedupe_scope = "";
  EXPECT_EQ(publisher_->Publish(r, [](auto) {}).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClusterPublisherTest, ContinuesAfterTheStreamsTailWhenTheCounterIsLost) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Publish(Message("m")).ok());
  Raw({"DEL", RoomSeqKey("t", 5)});
  absl::StatusOr<PublishResult> r = Publish(Message("after"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->seq, 4u);
}

TEST_F(ClusterPublisherTest, RunsTheScriptAgainAfterTheCacheIsFlushed) {
  ASSERT_TRUE(Publish(Message("a")).ok());
  Raw({"SCRIPT", "FLUSH"});
  absl::StatusOr<PublishResult> r = Publish(Message("b"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->seq, 2u);
}

TEST_F(ClusterPublisherTest, RefusesPublishesAtOnceWhileRedisIsDown) {
  ASSERT_TRUE(Publish(Message("a")).ok());
  redis_.Kill();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return !publisher_->up(); }));
  EXPECT_EQ(states_.back(), RedisLinkState::kDown);
  bool called = false;
  absl::Status st = publisher_->Publish(Message("b"), [&](auto) { called = true; });
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  // Says what is down and why, for the server's log line.
  EXPECT_TRUE(absl::StrContains(st.message(), "redis is down")) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), absl::StrCat(redis_.port()))) << st;
  EXPECT_FALSE(called);
}

TEST_F(ClusterPublisherTest, AfterARestartWithoutPersistenceSeqsContinueAboveTheFloor) {
  uint64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<PublishResult> r = Publish(Message("m"));
    ASSERT_TRUE(r.ok());
    last = r->seq;
  }
  const uint16_t port = redis_.port();
  redis_.Kill();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return !publisher_->up(); }));
  ASSERT_TRUE(redis_.StartOn(port).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return publisher_->up(); }));
  // Redis lost the counter and the stream; the node's floor keeps seqs unique.
  PublishRequest r = Message("after");
  r.seq_floor = last;
  absl::StatusOr<PublishResult> after = Publish(r);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->seq, last + 1);
}

TEST_F(ClusterPublisherTest, ScriptShaIsTheOneRedisComputes) {
  EXPECT_EQ(Raw({"SCRIPT", "LOAD", ClusterPublisher::Script()}), ClusterPublisher::ScriptSha1());
}

TEST_F(ClusterPublisherTest, ATurnsPublishesToARoomTakeConsecutiveSeqsInOrderInOneCall) {
  std::vector<PublishRequest> turn;
  for (int i = 0; i < 10; ++i) turn.push_back(Message("m" + std::to_string(i)));
  const std::vector<absl::StatusOr<PublishResult>> got = PublishTurn(turn);
  ASSERT_EQ(got.size(), 10u);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].status();
    EXPECT_EQ(got[i]->seq, i + 1);
    EXPECT_FALSE(got[i]->duplicate);
  }
  EXPECT_EQ(publisher_->script_calls(), 1u);
  absl::StatusOr<std::vector<ClusterMessage>> stored = ReadAfter(0);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->size(), 10u);
  for (size_t i = 0; i < stored->size(); ++i) {
    EXPECT_EQ((*stored)[i].seq, i + 1);
    EXPECT_EQ((*stored)[i].text, "m" + std::to_string(i));
  }
}

TEST_F(ClusterPublisherTest, ATurnsPublishesGoOutAsOnePublishCarryingEachInOrder) {
  std::unique_ptr<ChannelTap> tap = Tap(5);
  std::vector<PublishRequest> turn;
  for (int i = 0; i < 4; ++i) turn.push_back(Message("m" + std::to_string(i)));
  for (const auto& r : PublishTurn(turn)) ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<std::string> payloads = PayloadsBeforeMarker(tap.get(), 5);
  ASSERT_EQ(payloads.size(), 1u);
  absl::StatusOr<std::vector<ClusterMessage>> batch = DecodeClusterPayload(5, payloads[0]);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 4u);
  for (size_t i = 0; i < batch->size(); ++i) {
    EXPECT_EQ((*batch)[i].seq, i + 1);
    EXPECT_EQ((*batch)[i].text, "m" + std::to_string(i));
    EXPECT_EQ((*batch)[i].sender, "alice");
  }
}

TEST_F(ClusterPublisherTest, ATurnWithoutDedupeKeysIsPublishedWithOneHeaderForAll) {
  std::unique_ptr<ChannelTap> tap = Tap(5);
  std::vector<PublishRequest> turn;
  for (int i = 0; i < 3; ++i) turn.push_back(Message(std::string(i + 1, 'x')));
  for (PublishRequest& r : turn) r.require_registered = false;
  for (const auto& r : PublishTurn(turn)) ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<std::string> payloads = PayloadsBeforeMarker(tap.get(), 5);
  ASSERT_EQ(payloads.size(), 1u);
  // Count, first seq and timestamp once, then each message's four fields
  // exactly as the node sent them.
  EXPECT_TRUE(absl::StartsWith(payloads[0], "mb2;1:31:1")) << payloads[0];
  EXPECT_TRUE(absl::EndsWith(payloads[0], "5:alice1:91:01:x5:alice1:91:02:xx5:alice1:91:03:xxx")) << payloads[0];
}

TEST_F(ClusterPublisherTest, ATurnWithAResendPublishesOnlyTheNewMessagesWithConsecutiveSeqs) {
  ASSERT_TRUE(Publish(Message("a", 7)).ok());
  std::unique_ptr<ChannelTap> tap = Tap(5);
  const std::vector<absl::StatusOr<PublishResult>> got =
      PublishTurn({Message("b"), Message("a", 7), Message("c", 9), Message("c", 9), Message("d")});
  for (const auto& r : got) ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(got[1]->duplicate && got[3]->duplicate);
  const std::vector<std::string> payloads = PayloadsBeforeMarker(tap.get(), 5);
  ASSERT_EQ(payloads.size(), 1u);
  absl::StatusOr<std::vector<ClusterMessage>> batch = DecodeClusterPayload(5, payloads[0]);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 3u);
  const char* texts[] = {"b", "c", "d"};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*batch)[i].seq, i + 2);
    EXPECT_EQ((*batch)[i].text, texts[i]);
  }
  EXPECT_EQ((*batch)[1].client_msg_id, 9u);
  EXPECT_EQ(got[3]->seq, 3u);
}

TEST_F(ClusterPublisherTest, AOneMessageTurnPublishesTheSingleMessageForm) {
  std::unique_ptr<ChannelTap> tap = Tap(5);
  ASSERT_TRUE(Publish(Message("solo")).ok());
  const std::vector<std::string> payloads = PayloadsBeforeMarker(tap.get(), 5);
  ASSERT_EQ(payloads.size(), 1u);
  EXPECT_TRUE(DecodeClusterMessage(5, payloads[0]).ok()) << payloads[0];
}

TEST_F(ClusterPublisherTest, AResendInsideOneTurnGetsTheFirstCopysSeq) {
  const std::vector<absl::StatusOr<PublishResult>> got =
      PublishTurn({Message("a", 7), Message("b", 8), Message("a", 7)});
  ASSERT_TRUE(got[0].ok() && got[1].ok() && got[2].ok());
  EXPECT_EQ(got[0]->seq, 1u);
  EXPECT_EQ(got[1]->seq, 2u);
  EXPECT_TRUE(got[2]->duplicate);
  EXPECT_EQ(got[2]->seq, 1u);
  EXPECT_EQ(got[2]->timestamp_unix_micros, got[0]->timestamp_unix_micros);
  absl::StatusOr<std::vector<ClusterMessage>> stored = ReadAfter(0);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 2u);
}

TEST_F(ClusterPublisherTest, AResendOfAnEarlierTurnIsRecognisedAndTakesNoSeq) {
  ASSERT_TRUE(PublishTurn({Message("a", 7), Message("b", 8)})[1].ok());
  const std::vector<absl::StatusOr<PublishResult>> got = PublishTurn({Message("b", 8), Message("c", 9)});
  ASSERT_TRUE(got[0].ok() && got[1].ok());
  EXPECT_TRUE(got[0]->duplicate);
  EXPECT_EQ(got[0]->seq, 2u);
  EXPECT_FALSE(got[1]->duplicate);
  EXPECT_EQ(got[1]->seq, 3u);
}

TEST_F(ClusterPublisherTest, ATurnOfOnlyResendsPublishesNothing) {
  ASSERT_TRUE(PublishTurn({Message("a", 7), Message("b", 8)})[1].ok());
  std::unique_ptr<ChannelTap> tap = Tap(5);
  const std::vector<absl::StatusOr<PublishResult>> got = PublishTurn({Message("a", 7), Message("b", 8)});
  ASSERT_TRUE(got[0].ok() && got[1].ok());
  EXPECT_TRUE(got[0]->duplicate && got[1]->duplicate);
  EXPECT_TRUE(PayloadsBeforeMarker(tap.get(), 5).empty());
}

TEST_F(ClusterPublisherTest, ATurnRacingTheRoomsDeletionWritesNothing) {
  // The registry exists but no longer holds room 5 (another room keeps it).
  Raw({"HSET", "t:rooms:data", "6", "x"});
  std::unique_ptr<ChannelTap> tap = Tap(5);
  std::vector<PublishRequest> turn;
  for (int i = 0; i < 3; ++i) {
    turn.push_back(Message("m", 20 + i));
    turn.back().require_registered = true;
  }
  for (const auto& r : PublishTurn(turn)) EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_TRUE(Raw({"GET", RoomSeqKey("t", 5)}).empty());
  absl::StatusOr<std::vector<ClusterMessage>> stored = ReadAfter(0);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->empty());
  EXPECT_TRUE(Raw({"GET", DedupeKey("t", 5, "a9", 20)}).empty());
  EXPECT_TRUE(PayloadsBeforeMarker(tap.get(), 5).empty());
}

TEST_F(ClusterPublisherTest, ATurnWithoutDedupeKeysRacingTheRoomsDeletionWritesNothing) {
  // One flag for all and no keys: the bodies go as one argument.
  Raw({"HSET", "t:rooms:data", "6", "x"});
  std::unique_ptr<ChannelTap> tap = Tap(5);
  std::vector<PublishRequest> turn = {Message("a"), Message("b"), Message("c")};
  for (PublishRequest& r : turn) r.require_registered = true;
  for (const auto& r : PublishTurn(turn)) EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_TRUE(Raw({"GET", RoomSeqKey("t", 5)}).empty());
  EXPECT_TRUE(PayloadsBeforeMarker(tap.get(), 5).empty());
}

TEST_F(ClusterPublisherTest, AMixedTurnRacingTheRoomsDeletionStoresWhatDidNotRequireTheRoom) {
  // Flags differ: one argument per message, split by the script.
  Raw({"HSET", "t:rooms:data", "6", "x"});
  std::vector<PublishRequest> turn = {Message("a"), Message("b"), Message("c")};
  turn[0].require_registered = true;
  turn[2].require_registered = true;
  const std::vector<absl::StatusOr<PublishResult>> got = PublishTurn(turn);
  EXPECT_EQ(got[0].status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(got[1].ok()) << got[1].status();
  EXPECT_EQ(got[1]->seq, 1u);
  EXPECT_EQ(got[2].status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<ClusterMessage>> stored = ReadAfter(0);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].text, "b");
}

TEST_F(ClusterPublisherTest, ATurnToARegisteredRoomIsStored) {
  Raw({"HSET", "t:rooms:data", "5", "x"});
  std::vector<PublishRequest> turn = {Message("a"), Message("b")};
  for (PublishRequest& r : turn) r.require_registered = true;
  const std::vector<absl::StatusOr<PublishResult>> got = PublishTurn(turn);
  ASSERT_TRUE(got[0].ok()) << got[0].status();
  ASSERT_TRUE(got[1].ok()) << got[1].status();
  EXPECT_EQ(got[1]->seq, 2u);
}

TEST_F(ClusterPublisherTest, ATurnForSeveralRoomsNumbersEachRoomOnItsOwn) {
  std::vector<PublishRequest> turn;
  for (int i = 0; i < 6; ++i) {
    turn.push_back(Message("m" + std::to_string(i)));
    turn.back().room_id = i % 2 == 0 ? 5 : 6;
  }
  const std::vector<absl::StatusOr<PublishResult>> got = PublishTurn(turn);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].status();
    EXPECT_EQ(got[i]->seq, i / 2 + 1) << i;
  }
  EXPECT_EQ(publisher_->script_calls(), 2u);  // one per room
  absl::StatusOr<std::vector<ClusterMessage>> room5 = ReadAfter(0);
  ASSERT_TRUE(room5.ok());
  ASSERT_EQ(room5->size(), 3u);
  EXPECT_EQ((*room5)[2].text, "m4");
}

TEST_F(ClusterPublisherTest, ATurnLongerThanTheCapGoesInSeveralCallsInOrder) {
  const size_t n = ClusterPublisher::kMaxBatchMessages + 5;
  std::vector<PublishRequest> turn(n, Message("m"));
  const std::vector<absl::StatusOr<PublishResult>> got = PublishTurn(turn);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].status();
    EXPECT_EQ(got[i]->seq, i + 1);
  }
  EXPECT_EQ(publisher_->script_calls(), 2u);
}

TEST_F(ClusterPublisherTest, ATurnPastTheByteCapGoesInSeveralCalls) {
  // Two fit in one call with their senders ("alice"), the third does not.
  const std::string big(ClusterPublisher::kMaxBatchBytes / 2 - 16, 'x');
  const std::vector<absl::StatusOr<PublishResult>> got = PublishTurn({Message(big), Message(big), Message(big)});
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].status();
    EXPECT_EQ(got[i]->seq, i + 1);
  }
  EXPECT_EQ(publisher_->script_calls(), 2u);
}

TEST_F(ClusterPublisherTest, AnXaddRedisRefusesStoresNothingFromThereAndTakesNoSeq) {
  ASSERT_TRUE(Publish(Message("a")).ok());
  Raw({"DEL", RoomLogKey("t", 5)});
  Raw({"SET", RoomLogKey("t", 5), "not a stream"});  // XADD: WRONGTYPE
  const std::vector<absl::StatusOr<PublishResult>> got = PublishTurn({Message("b"), Message("c")});
  for (const auto& r : got) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), "WRONGTYPE")) << r.status();
  }
  Raw({"DEL", RoomLogKey("t", 5)});
  absl::StatusOr<PublishResult> after = Publish(Message("d"));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->seq, 2u);  // the refused ones took no seq
}

TEST_F(ClusterPublisherTest, AnotherCommandOnTheLinkSendsTheQueuedPublishesFirst) {
  bool published = false;
  std::optional<absl::StatusOr<std::vector<ClusterMessage>>> read;
  ASSERT_TRUE(publisher_->Publish(Message("first"), [&](auto r) { published = r.ok(); }).ok());
  ASSERT_TRUE(publisher_->ReadAfter(5, 0, 10, [&](auto r) { read = std::move(r); }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return published && read.has_value(); }));
  ASSERT_TRUE(read->ok()) << read->status();
  ASSERT_EQ((*read)->size(), 1u);
  EXPECT_EQ((**read)[0].text, "first");
}

TEST_F(ClusterPublisherTest, AQueuedPublishWhoseRedisDiesIsUnavailable) {
  std::optional<absl::StatusOr<PublishResult>> out;
  ASSERT_TRUE(publisher_->Publish(Message("x"), [&](auto r) { out = std::move(r); }).ok());
  redis_.Kill();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return out.has_value(); }));
  EXPECT_EQ(out->status().code(), absl::StatusCode::kUnavailable) << out->status();
}

TEST_F(ClusterPublisherTest, DestroyingThePublisherAnswersWhatIsQueued) {
  std::optional<absl::StatusOr<PublishResult>> out;
  ASSERT_TRUE(publisher_->Publish(Message("x"), [&](auto r) { out = std::move(r); }).ok());
  publisher_.reset();
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace muxchat::server
