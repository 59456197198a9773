#include "src/server/cluster_stream.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/server/cluster_publisher.h"
#include "src/server/cluster_rooms.h"
#include "tests/server/redis_process.h"

namespace muxchat::server {
namespace {

using ::muxchat::server::testing::RunLoopUntil;

constexpr uint64_t kRoom = 5;

// A room's stream written by ClusterPublisher (one entry per script call)
// or by hand in the per-message form nodes wrote before, read back through
// the reads muxchatd uses: ReadAfter (catch-up, forward history, resume) and
// ClusterRooms::Before / Latest (backward history, a node's first join).
class ClusterStreamTest : public ::muxchat::server::testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    options_ = ::muxchat::server::testing::TestClusterOptions(redis_.port());
  }

  // Separate from SetUp so that a test can change options_ first.
  void StartPublisher() {
    publisher_ = std::make_unique<ClusterPublisher>(loop_.get(), options_);
    rooms_ = std::make_unique<ClusterRooms>(publisher_->mutable_link(), "t");
    publisher_->Start();
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return publisher_->up(); }));
  }

  void TearDown() override {
    if (publisher_ != nullptr) publisher_->DropPendingOnDestroy();
    rooms_.reset();
    publisher_.reset();
  }

  static PublishRequest Message(std::string text, uint64_t client_msg_id = 0) {
    PublishRequest r;
    r.room_id = kRoom;
    r.sender = "alice";
    r.sender_account_id = 9;
    r.client_msg_id = client_msg_id;
    r.dedupe_scope = "a9";
    r.text = std::move(text);
    return r;
  }

  // `n` messages "<tag><i>" queued in one loop turn: one script call, one
  // stream entry. Their seqs.
  std::vector<uint64_t> PublishTurn(size_t n, const std::string& tag = "m") {
    std::vector<uint64_t> seqs(n, 0);
    size_t answered = 0;
    for (size_t i = 0; i < n; ++i) {
      EXPECT_TRUE(publisher_
                      ->Publish(Message(absl::StrCat(tag, i)),
                                [&seqs, &answered, i](absl::StatusOr<PublishResult> r) {
                                  ++answered;
                                  if (r.ok()) seqs[i] = r->seq;
                                })
                      .ok());
    }
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return answered == n; }));
    return seqs;
  }

  using Read = absl::StatusOr<std::vector<ClusterMessage>>;
  Read Await(absl::Status sent, std::optional<Read>& out) {
    if (!sent.ok()) return sent;
    if (!RunLoopUntil(loop_.get(), [&] { return out.has_value(); })) return absl::DeadlineExceededError("no reply");
    return *out;
  }
  Read ReadAfter(uint64_t after_seq, uint32_t limit = 1000) {
    std::optional<Read> out;
    return Await(publisher_->ReadAfter(kRoom, after_seq, limit, [&](Read r) { out = std::move(r); }), out);
  }
  Read Before(uint64_t before_seq, uint32_t limit = 1000) {
    std::optional<Read> out;
    return Await(rooms_->Before(kRoom, before_seq, limit, [&](Read r) { out = std::move(r); }), out);
  }

  // A command on the publisher's link; its reply as an integer (or -1).
  long long Raw(const std::vector<std::string>& args) {
    std::optional<long long> out;
    EXPECT_TRUE(publisher_->mutable_link()
                    ->Command(args,
                              [&](redisReply* r) {
                                out = r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
                              })
                    .ok());
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return out.has_value(); }));
    return out.value_or(-1);
  }

  // Seqs first..last in the per-message entry form of nodes before batch
  // entries (ID "<seq>-0", six fields), and the counter at `last`.
  void WriteOldEntries(uint64_t first, uint64_t last) {
    Raw({"EVAL",
         "for s = tonumber(ARGV[1]), tonumber(ARGV[2]) do "
         "redis.call('XADD', KEYS[1], s .. '-0', 'seq', s, 'ts', 1700000000000000 + s, 'sender', 'old', "
         "'sender_account_id', 0, 'client_msg_id', 0, 'text', 'old' .. s) end "
         "redis.call('SET', KEYS[2], ARGV[2]) return 1",
         "2", RoomLogKey("t", kRoom), RoomSeqKey("t", kRoom), absl::StrCat(first), absl::StrCat(last)});
  }

  static std::vector<uint64_t> SeqsOf(const Read& read) {
    std::vector<uint64_t> v;
    if (read.ok()) {
      for (const ClusterMessage& m : *read) v.push_back(m.seq);
    }
    return v;
  }
  static std::vector<uint64_t> Seqs(uint64_t first, uint64_t last) {
    std::vector<uint64_t> v;
    for (uint64_t s = first; s <= last; ++s) v.push_back(s);
    return v;
  }

  ClusterOptions options_;
  std::unique_ptr<ClusterPublisher> publisher_;
  std::unique_ptr<ClusterRooms> rooms_;
};

TEST_F(ClusterStreamTest, AScriptCallIsOneEntryKeyedByItsLastSeq) {
  StartPublisher();
  EXPECT_EQ(PublishTurn(5), Seqs(1, 5));
  EXPECT_EQ(PublishTurn(1), Seqs(6, 6));
  EXPECT_EQ(Raw({"XLEN", RoomLogKey("t", kRoom)}), 2);
  // The entry IDs are the last seqs: 5-0 and 6-0.
  EXPECT_EQ(Raw({"EVAL", "return #redis.call('XRANGE', KEYS[1], '5-0', '6-0')", "1", RoomLogKey("t", kRoom)}), 2);
}

TEST_F(ClusterStreamTest, AnEntryHoldsTheBytesTheChannelCarried) {
  StartPublisher();
  PublishTurn(3);
  std::optional<std::string> payload;
  ASSERT_TRUE(publisher_->mutable_link()
                  ->Command({"XRANGE", RoomLogKey("t", kRoom), "-", "+"},
                            [&](redisReply* r) {
                              payload = r->element[0]->element[1]->element[1]->str;
                              EXPECT_EQ(std::string(r->element[0]->element[1]->element[0]->str), "m");
                            })
                  .ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return payload.has_value(); }));
  absl::StatusOr<std::vector<ClusterMessage>> decoded = DecodeClusterPayload(kRoom, *payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), 3u);
  EXPECT_EQ((*decoded)[2].text, "m2");
}

TEST_F(ClusterStreamTest, ReadAfterStartsInTheMiddleOfABatchEntry) {
  StartPublisher();
  PublishTurn(6);
  Read got = ReadAfter(2);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(SeqsOf(got), Seqs(3, 6));
  EXPECT_EQ((*got)[0].text, "m2");
  EXPECT_EQ((*got)[0].sender, "alice");
  EXPECT_EQ((*got)[0].sender_account_id, 9u);
}

TEST_F(ClusterStreamTest, ReadAfterCrossesBatchBoundariesAndCountsMessagesNotEntries) {
  StartPublisher();
  PublishTurn(5);  // 1..5
  PublishTurn(5);  // 6..10
  PublishTurn(5);  // 11..15
  EXPECT_EQ(SeqsOf(ReadAfter(3, 4)), Seqs(4, 7));
  EXPECT_EQ(SeqsOf(ReadAfter(4, 1)), Seqs(5, 5));
  EXPECT_EQ(SeqsOf(ReadAfter(0, 12)), Seqs(1, 12));
  EXPECT_EQ(SeqsOf(ReadAfter(15)), std::vector<uint64_t>{});
}

TEST_F(ClusterStreamTest, BeforeCrossesABatchBoundaryAndTakesTheNewestBelowTheSeq) {
  StartPublisher();
  PublishTurn(5);  // 1..5
  PublishTurn(5);  // 6..10
  EXPECT_EQ(SeqsOf(Before(8, 5)), Seqs(3, 7));
  EXPECT_EQ(SeqsOf(Before(6, 2)), Seqs(4, 5));
  EXPECT_EQ(SeqsOf(Before(3)), Seqs(1, 2));
  EXPECT_EQ(SeqsOf(Before(1)), std::vector<uint64_t>{});
  EXPECT_EQ(SeqsOf(Before(0, 7)), Seqs(4, 10));  // Latest
  EXPECT_EQ(SeqsOf(Before(100, 3)), Seqs(8, 10));
}

TEST_F(ClusterStreamTest, ASeqBeyondWhatLuaHoldsExactlyReadsLikeTheEnd) {
  StartPublisher();
  PublishTurn(3);
  const uint64_t huge = ~uint64_t{0};
  Read after = ReadAfter(huge);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(after->empty());
  Read before = Before(huge, 2);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(SeqsOf(before), Seqs(2, 3));
}

TEST_F(ClusterStreamTest, PerMessageEntriesOfEarlierNodesAreStillRead) {
  StartPublisher();
  WriteOldEntries(1, 4);
  EXPECT_EQ(PublishTurn(3), Seqs(5, 7));  // continues after the old entries
  PublishTurn(1);                         // 8
  Read all = ReadAfter(0);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(SeqsOf(all), Seqs(1, 8));
  EXPECT_EQ((*all)[1].text, "old2");
  EXPECT_EQ((*all)[1].timestamp_unix_micros, 1700000000000002);
  EXPECT_EQ((*all)[4].text, "m0");
  EXPECT_EQ(SeqsOf(ReadAfter(2, 4)), Seqs(3, 6));
  EXPECT_EQ(SeqsOf(Before(6, 3)), Seqs(3, 5));
  EXPECT_EQ(SeqsOf(Before(0, 6)), Seqs(3, 8));
}

TEST_F(ClusterStreamTest, ReadsWalkManyEntriesOfEitherForm) {
  StartPublisher();
  WriteOldEntries(1, 300);
  for (int i = 0; i < 4; ++i) PublishTurn(200);  // 301..1100 in 4 entries
  EXPECT_EQ(SeqsOf(ReadAfter(0, 500)), Seqs(1, 500));
  EXPECT_EQ(SeqsOf(ReadAfter(250, 700)), Seqs(251, 950));
  EXPECT_EQ(SeqsOf(Before(0, 1000)), Seqs(101, 1100));
  EXPECT_EQ(SeqsOf(Before(450, 400)), Seqs(50, 449));
}

TEST_F(ClusterStreamTest, MaxlenCountsMessagesNotEntries) {
  options_.stream_maxlen = 20;
  StartPublisher();
  // Small macro-nodes, so that approximate trimming can act on a short stream.
  Raw({"CONFIG", "SET", "stream-node-max-entries", "2"});
  for (int i = 0; i < 20; ++i) PublishTurn(5);  // 100 messages in 20 entries
  Read kept = ReadAfter(0);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_FALSE(kept->empty());
  // At least the newest 20 messages, and far fewer than 20 entries' worth
  // (MAXLEN 20 counted in entries would have kept all 100).
  EXPECT_LE(kept->front().seq, 81u);
  EXPECT_GT(kept->front().seq, 50u);
  EXPECT_EQ(kept->back().seq, 100u);
  EXPECT_EQ(SeqsOf(kept), Seqs(kept->front().seq, 100));
}

TEST_F(ClusterStreamTest, ARefusedXaddLeavesNoDedupeKeySoAResendIsStoredLater) {
  StartPublisher();
  Raw({"SET", RoomLogKey("t", kRoom), "not a stream"});  // XADD: WRONGTYPE
  std::optional<absl::StatusOr<PublishResult>> first;
  ASSERT_TRUE(publisher_->Publish(Message("x", 42), [&](auto r) { first = std::move(r); }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return first.has_value(); }));
  EXPECT_EQ(first->status().code(), absl::StatusCode::kInternal);
  Raw({"DEL", RoomLogKey("t", kRoom)});
  std::optional<absl::StatusOr<PublishResult>> again;
  ASSERT_TRUE(publisher_->Publish(Message("x", 42), [&](auto r) { again = std::move(r); }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return again.has_value(); }));
  ASSERT_TRUE(again->ok()) << again->status();
  EXPECT_FALSE((*again)->duplicate);
  EXPECT_EQ((*again)->seq, 1u);
}

TEST_F(ClusterStreamTest, ARefusedXaddAlsoRefusesAResendInsideTheSameCall) {
  StartPublisher();
  Raw({"SET", RoomLogKey("t", kRoom), "not a stream"});  // XADD: WRONGTYPE
  std::vector<std::optional<absl::StatusOr<PublishResult>>> got(3);
  ASSERT_TRUE(publisher_->Publish(Message("a", 1), [&](auto r) { got[0] = std::move(r); }).ok());
  ASSERT_TRUE(publisher_->Publish(Message("a", 1), [&](auto r) { got[1] = std::move(r); }).ok());
  ASSERT_TRUE(publisher_->Publish(Message("b"), [&](auto r) { got[2] = std::move(r); }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return got[2].has_value(); }));
  for (const auto& r : got) EXPECT_EQ(r->status().code(), absl::StatusCode::kInternal) << r->status();
}

TEST_F(ClusterStreamTest, AResendOfAMessageInsideABatchEntryGetsItsSeq) {
  StartPublisher();
  std::vector<std::optional<absl::StatusOr<PublishResult>>> got(3);
  ASSERT_TRUE(publisher_->Publish(Message("a", 1), [&](auto r) { got[0] = std::move(r); }).ok());
  ASSERT_TRUE(publisher_->Publish(Message("b", 2), [&](auto r) { got[1] = std::move(r); }).ok());
  ASSERT_TRUE(publisher_->Publish(Message("c", 3), [&](auto r) { got[2] = std::move(r); }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return got[2].has_value(); }));
  std::optional<absl::StatusOr<PublishResult>> resend;
  ASSERT_TRUE(publisher_->Publish(Message("b", 2), [&](auto r) { resend = std::move(r); }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return resend.has_value(); }));
  ASSERT_TRUE(resend->ok()) << resend->status();
  EXPECT_TRUE((*resend)->duplicate);
  EXPECT_EQ((*resend)->seq, 2u);
  EXPECT_EQ((*resend)->timestamp_unix_micros, (*got[1])->timestamp_unix_micros);
  EXPECT_EQ(SeqsOf(ReadAfter(0)), Seqs(1, 3));
}

}  // namespace
}  // namespace muxchat::server
