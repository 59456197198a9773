#include "src/server/cluster_room_feed.h"

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "src/server/cluster_subscriber.h"
#include "tests/server/redis_process.h"

namespace muxchat::server {
namespace {

using ::muxchat::server::testing::HaveRedisServer;
using ::muxchat::server::testing::RedisProcess;
using ::muxchat::server::testing::RunLoopUntil;

constexpr uint64_t kRoom = 5;

class ClusterRoomFeedTest : public ::muxchat::server::testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const ClusterOptions options = ::muxchat::server::testing::TestClusterOptions(redis_.port());
    publisher_ = std::make_unique<ClusterPublisher>(loop_.get(), options);
    feed_ = std::make_unique<ClusterRoomFeed>(
        publisher_.get(), [this](const ClusterMessage& m) { delivered_.push_back(m.seq); },
        [this](uint64_t room, uint64_t first, uint64_t last) { gaps_.emplace_back(room, first, last); },
        /*read_batch=*/4);
    subscriber_ = std::make_unique<ClusterSubscriber>(
        loop_.get(), options, [this](const ClusterMessage& m) { feed_->OnMessage(m); },
        [this](uint64_t room) { feed_->OnSubscribed(room); });
    publisher_->Start();
    subscriber_->Start();
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return publisher_->up() && subscriber_->up(); }));
  }

  ClusterMessage PublishAndWait(const std::string& text) {
    PublishRequest r;
    r.room_id = kRoom;
    r.sender = "n";
    r.text = text;
    std::optional<absl::StatusOr<PublishResult>> out;
    const absl::Status queued = publisher_->Publish(r, [&](auto result) { out = std::move(result); });
    EXPECT_TRUE(queued.ok()) << queued;
    // Refused at once (Redis down): no answer will come, so none is awaited.
    if (queued.ok()) {
      EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return out.has_value(); }));
    }
    ClusterMessage m;
    m.room_id = kRoom;
    m.seq = out.has_value() && out->ok() ? (*out)->seq : 0;
    m.text = text;
    return m;
  }

  // Queues `texts` in one loop turn (one script call, one PUBLISH) and runs
  // the loop until all are acknowledged; their seqs.
  std::vector<uint64_t> PublishTurnAndWait(const std::vector<std::string>& texts) {
    std::vector<uint64_t> seqs(texts.size(), 0);
    size_t acked = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      PublishRequest r;
      r.room_id = kRoom;
      r.sender = "n";
      r.text = texts[i];
      EXPECT_TRUE(publisher_
                      ->Publish(r,
                                [&seqs, &acked, i](absl::StatusOr<PublishResult> result) {
                                  ++acked;
                                  if (result.ok()) seqs[i] = result->seq;
                                })
                      .ok());
    }
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return acked == texts.size(); }));
    return seqs;
  }

  void Raw(const std::vector<std::string>& args) {
    bool done = false;
    RedisLinkOptions options;
    options.port = redis_.port();
    RedisLink other(loop_.get(), options);
    other.Start();
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return other.up(); }));
    ASSERT_TRUE(other.Command(args, [&](redisReply*) { done = true; }).ok());
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return done; }));
  }

  // As ClusterNode does: the feed goes before the publisher, so a read the
  // feed still waits for (a catch-up a test left in flight) must not call
  // into it when the publisher's link is torn down.
  void TearDown() override {
    if (publisher_ != nullptr) publisher_->DropPendingOnDestroy();
    subscriber_.reset();
    feed_.reset();
    publisher_.reset();
  }

  static std::vector<uint64_t> Seqs(uint64_t first, uint64_t last) {
    std::vector<uint64_t> v;
    for (uint64_t s = first; s <= last; ++s) v.push_back(s);
    return v;
  }

  std::unique_ptr<ClusterPublisher> publisher_;
  std::unique_ptr<ClusterRoomFeed> feed_;
  std::unique_ptr<ClusterSubscriber> subscriber_;
  std::vector<uint64_t> delivered_;
  std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> gaps_;
};

TEST_F(ClusterRoomFeedTest, CatchesUpOnWhatWasPublishedBeforeTheSubscription) {
  for (int i = 0; i < 10; ++i) PublishAndWait("before");  // more than one read batch
  feed_->Track(kRoom, 0);
  subscriber_->Acquire(kRoom);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return delivered_.size() == 10; }));
  PublishAndWait("live");
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return delivered_.size() == 11; }));
  EXPECT_EQ(delivered_, Seqs(1, 11));
  EXPECT_TRUE(gaps_.empty());
}

TEST_F(ClusterRoomFeedTest, StartsAfterTheGivenSeq) {
  for (int i = 0; i < 3; ++i) PublishAndWait("old");
  feed_->Track(kRoom, 3);
  subscriber_->Acquire(kRoom);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return subscriber_->subscribed_rooms() == 1; }));
  PublishAndWait("new");
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return !delivered_.empty(); }));
  EXPECT_EQ(delivered_, Seqs(4, 4));
}

// Was DISABLED after two full CI runs in which it used up every 20 s wait;
// that was before the feed retried a catch-up read lost with the command
// connection (RetryStalled). Re-enabled after 460 clean runs (300 in a row,
// then 4 processes x 40 at once on a loaded machine). The wait retries as
// ClusterNode's tick does, so a link blip on a loaded machine is survived
// the way the node survives it, not hung on.
TEST_F(ClusterRoomFeedTest, AMessageAheadIsHeldUntilTheMissingOnesAreRead) {
  // The node missed 1..3 live (not subscribed); 4 arrives live first.
  std::vector<ClusterMessage> sent;
  for (int i = 0; i < 4; ++i) sent.push_back(PublishAndWait("m"));
  feed_->Track(kRoom, 0);
  feed_->OnMessage(sent[3]);
  EXPECT_TRUE(delivered_.empty());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] {
    if (publisher_->up()) feed_->RetryStalled();
    return delivered_.size() == 4;
  }));
  EXPECT_EQ(delivered_, Seqs(1, 4));
  // Heard again (live after the read, or a second subscription): dropped.
  feed_->OnMessage(sent[1]);
  feed_->OnMessage(sent[3]);
  EXPECT_EQ(delivered_, Seqs(1, 4));
}

// A catch-up read lost with the command connection (Redis wedged, the
// reply overdue) is tried again by RetryStalled once Redis is back, without
// waiting for a new subscription.
TEST_F(ClusterRoomFeedTest, ACatchUpLostWithTheConnectionIsReadAgainOnceRedisIsBack) {
  std::vector<ClusterMessage> sent;
  for (int i = 0; i < 3; ++i) sent.push_back(PublishAndWait("m"));
  feed_->Track(kRoom, 0);
  redis_.Pause();
  feed_->OnMessage(sent[2]);  // ahead: its read waits on the wedged Redis
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return !publisher_->up(); }));
  EXPECT_TRUE(delivered_.empty());
  redis_.Resume();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return publisher_->up(); }));
  feed_->RetryStalled();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return delivered_.size() == 3; }));
  EXPECT_EQ(delivered_, Seqs(1, 3));
}

TEST_F(ClusterRoomFeedTest, ReportsAGapForSeqsTheStreamNoLongerHas) {
  std::vector<ClusterMessage> sent;
  for (int i = 0; i < 3; ++i) sent.push_back(PublishAndWait("lost"));
  Raw({"DEL", RoomLogKey("t", kRoom)});  // as a Redis restart without persistence would
  sent.push_back(PublishAndWait("kept"));
  ASSERT_EQ(sent.back().seq, 4u);
  feed_->Track(kRoom, 0);
  feed_->OnMessage(sent.back());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return !delivered_.empty(); }));
  EXPECT_EQ(delivered_, Seqs(4, 4));
  ASSERT_EQ(gaps_.size(), 1u);
  EXPECT_EQ(gaps_[0], std::make_tuple(kRoom, uint64_t{1}, uint64_t{3}));
}

TEST_F(ClusterRoomFeedTest, AfterARedisRestartDeliveryResumesInOrder) {
  feed_->Track(kRoom, 0);
  subscriber_->Acquire(kRoom);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return subscriber_->subscribed_rooms() == 1; }));
  PublishAndWait("a");
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return delivered_.size() == 1; }));
  const uint16_t port = redis_.port();
  redis_.Kill();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return !publisher_->up() && !subscriber_->up(); }));
  ASSERT_TRUE(redis_.StartOn(port).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return publisher_->up() && subscriber_->subscribed_rooms() == 1; }));
  PublishRequest r;
  r.room_id = kRoom;
  r.sender = "n";
  r.text = "b";
  r.seq_floor = feed_->last_delivered(kRoom);
  bool acked = false;
  ASSERT_TRUE(publisher_->Publish(r, [&](auto) { acked = true; }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return acked && delivered_.size() == 2; }));
  EXPECT_EQ(delivered_, Seqs(1, 2));
  EXPECT_TRUE(gaps_.empty());
}

TEST_F(ClusterRoomFeedTest, ATurnsBatchIsDeliveredOneMessageAtATimeInOrder) {
  feed_->Track(kRoom, 0);
  subscriber_->Acquire(kRoom);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return subscriber_->subscribed_rooms() == 1; }));
  const uint64_t calls_before = publisher_->script_calls();
  EXPECT_EQ(PublishTurnAndWait({"a", "b", "c", "d", "e", "f"}), Seqs(1, 6));
  EXPECT_EQ(publisher_->script_calls(), calls_before + 1);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return delivered_.size() == 6; }));
  EXPECT_EQ(delivered_, Seqs(1, 6));
  EXPECT_TRUE(gaps_.empty());
  EXPECT_EQ(subscriber_->malformed(), 0u);
}

TEST_F(ClusterRoomFeedTest, ABatchAheadOfTheFeedWaitsForTheMissingSeqsFromTheStream) {
  PublishAndWait("missed-1");
  PublishAndWait("missed-2");
  // Subscribed before the room is tracked: the confirmation's catch-up does
  // not happen, so 1 and 2 are missing when the batch 3..5 arrives live.
  subscriber_->Acquire(kRoom);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return subscriber_->subscribed_rooms() == 1; }));
  feed_->Track(kRoom, 0);
  EXPECT_EQ(PublishTurnAndWait({"c", "d", "e"}), Seqs(3, 5));
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return delivered_.size() == 5; }));
  EXPECT_EQ(delivered_, Seqs(1, 5));
  EXPECT_TRUE(gaps_.empty());
}

TEST_F(ClusterRoomFeedTest, SeqsLostBeforeABatchAreOneGap) {
  for (int i = 0; i < 3; ++i) PublishAndWait("lost");
  Raw({"DEL", RoomLogKey("t", kRoom)});  // as a Redis restart without persistence would
  subscriber_->Acquire(kRoom);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return subscriber_->subscribed_rooms() == 1; }));
  feed_->Track(kRoom, 0);
  EXPECT_EQ(PublishTurnAndWait({"d", "e"}), Seqs(4, 5));
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return delivered_.size() == 2; }));
  EXPECT_EQ(delivered_, Seqs(4, 5));
  ASSERT_EQ(gaps_.size(), 1u);
  EXPECT_EQ(gaps_[0], std::make_tuple(kRoom, uint64_t{1}, uint64_t{3}));
}

TEST_F(ClusterRoomFeedTest, CatchesUpThroughABatchEntryLargerThanItsReadBatch) {
  // 10 messages in one stream entry, read 4 at a time (read_batch 4): each
  // read starts inside the entry and nothing is taken for a gap.
  EXPECT_EQ(PublishTurnAndWait({"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}), Seqs(1, 10));
  feed_->Track(kRoom, 0);
  subscriber_->Acquire(kRoom);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return delivered_.size() == 10; }));
  EXPECT_EQ(delivered_, Seqs(1, 10));
  EXPECT_TRUE(gaps_.empty());
}

TEST_F(ClusterRoomFeedTest, StartsInTheMiddleOfABatchEntry) {
  EXPECT_EQ(PublishTurnAndWait({"a", "b", "c", "d", "e", "f"}), Seqs(1, 6));
  feed_->Track(kRoom, 3);
  subscriber_->Acquire(kRoom);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return delivered_.size() == 3; }));
  PublishAndWait("g");
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return delivered_.size() == 4; }));
  EXPECT_EQ(delivered_, Seqs(4, 7));
  EXPECT_TRUE(gaps_.empty());
}

}  // namespace
}  // namespace muxchat::server
