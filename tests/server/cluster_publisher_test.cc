#include "src/server/cluster_publisher.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
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

}  // namespace
}  // namespace muxchat::server
