#include "src/server/cluster_message.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

ClusterMessage Sample() {
  ClusterMessage m;
  m.room_id = 7;
  m.seq = 42;
  m.timestamp_unix_micros = 1764460800123456;
  m.sender = "alice";
  m.sender_account_id = 9;
  m.client_msg_id = 3;
  m.text = std::string("a:b\n12:\0z", 9);
  return m;
}

TEST(ClusterMessage, DecodesWhatEncodeWrote) {
  const ClusterMessage m = Sample();
  absl::StatusOr<ClusterMessage> back = DecodeClusterMessage(7, EncodeClusterMessage(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, m);
}

TEST(ClusterMessage, EncodingIsTheScriptsFormat) {
  ClusterMessage m;
  m.seq = 5;
  m.timestamp_unix_micros = 17;
  m.sender = "bo";
  m.text = "hi";
  // What the Lua script builds: 'm1;' .. f(seq) .. f(ts) .. f(sender) .. ...
  EXPECT_EQ(EncodeClusterMessage(m), "m1;1:52:172:bo1:01:02:hi");
}

TEST(ClusterMessage, RejectsUnknownFormatTag) {
  std::string p = EncodeClusterMessage(Sample());
  p[1] = '2';
  EXPECT_EQ(DecodeClusterMessage(7, p).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClusterMessage, RejectsATruncatedField) {
  const std::string p = EncodeClusterMessage(Sample());
  EXPECT_FALSE(DecodeClusterMessage(7, p.substr(0, p.size() - 1)).ok());
}

TEST(ClusterMessage, RejectsBytesAfterTheText) {
  EXPECT_FALSE(DecodeClusterMessage(7, EncodeClusterMessage(Sample()) + "x").ok());
}

TEST(ClusterMessage, RejectsASignedLength) {
  EXPECT_FALSE(DecodeClusterMessage(7, "m1;+1:52:171:a1:01:01:x").ok());
}

TEST(ClusterMessage, RejectsSeqZero) {
  ClusterMessage m = Sample();
  m.seq = 0;
  EXPECT_FALSE(DecodeClusterMessage(7, EncodeClusterMessage(m)).ok());
}

std::vector<ClusterMessage> SampleBatch(size_t n) {
  std::vector<ClusterMessage> v;
  for (size_t i = 0; i < n; ++i) {
    ClusterMessage m = Sample();
    m.seq = 42 + i;
    m.text += std::to_string(i);
    v.push_back(m);
  }
  return v;
}

TEST(ClusterPayload, DecodesABatchInOrder) {
  const std::vector<ClusterMessage> batch = SampleBatch(3);
  absl::StatusOr<std::vector<ClusterMessage>> back = DecodeClusterPayload(7, EncodeClusterPayload(batch));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, batch);
}

TEST(ClusterPayload, OneMessageIsTheSingleMessageForm) {
  // Nodes that only read "m1;" still follow rooms whose calls store one.
  EXPECT_EQ(EncodeClusterPayload(SampleBatch(1)), EncodeClusterMessage(SampleBatch(1)[0]));
  absl::StatusOr<std::vector<ClusterMessage>> back = DecodeClusterPayload(7, EncodeClusterMessage(Sample()));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], Sample());
}

TEST(ClusterPayload, BatchEncodingIsTheScriptsFormat) {
  ClusterMessage a;
  a.seq = 5;
  a.timestamp_unix_micros = 17;
  a.sender = "bo";
  a.text = "hi";
  ClusterMessage b = a;
  b.seq = 6;
  b.text = "yo";
  // 'mb2;' .. f(count) .. f(first seq) .. f(ts) .. each message's four
  // fields (sender, account, client_msg_id, text).
  EXPECT_EQ(EncodeClusterPayload({a, b}), "mb2;1:21:52:172:bo1:01:02:hi2:bo1:01:02:yo");
}

TEST(ClusterPayload, AnEarlierNodesBatchFormIsStillRead) {
  // 'mb1;' .. f(count) .. each message's six fields: what nodes before
  // "mb2;" published and stored (a room's stream keeps it).
  absl::StatusOr<std::vector<ClusterMessage>> got =
      DecodeClusterPayload(7, "mb1;1:21:52:172:bo1:01:02:hi1:62:182:bo1:01:02:yo");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].seq, 5u);
  EXPECT_EQ((*got)[0].text, "hi");
  EXPECT_EQ((*got)[1].seq, 6u);
  EXPECT_EQ((*got)[1].timestamp_unix_micros, 18);
  EXPECT_EQ((*got)[1].text, "yo");
  // A list that is not one call's (a gap, two timestamps) still encodes so.
  EXPECT_EQ(EncodeClusterPayload(*got).substr(0, 4), "mb1;");
}

TEST(ClusterPayload, ABatchNumbersItsMessagesFromItsFirstSeq) {
  absl::StatusOr<std::vector<ClusterMessage>> got = DecodeClusterPayload(7, "mb2;1:32:402:171:a1:01:01:x1:b1:91:81:y1:c1:01:00:");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*got)[i].room_id, 7u);
    EXPECT_EQ((*got)[i].seq, 40 + i);
    EXPECT_EQ((*got)[i].timestamp_unix_micros, 17);
  }
  EXPECT_EQ((*got)[1].sender, "b");
  EXPECT_EQ((*got)[1].sender_account_id, 9u);
  EXPECT_EQ((*got)[1].client_msg_id, 8u);
  EXPECT_EQ((*got)[2].text, "");
}

TEST(ClusterPayload, RejectsABatchWhoseSeqsWouldPass2To64OrStartAtZero) {
  EXPECT_EQ(DecodeClusterPayload(7, "mb2;1:220:184467440737095516152:171:a1:01:01:x1:b1:01:01:y").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeClusterPayload(7, "mb2;1:21:02:171:a1:01:01:x1:b1:01:01:y").status().code(),
            absl::StatusCode::kInvalidArgument);
  // The last seq exactly 2^64 - 1 is still a seq.
  EXPECT_TRUE(DecodeClusterPayload(7, "mb2;1:220:184467440737095516142:171:a1:01:01:x1:b1:01:01:y").ok());
}

TEST(ClusterPayload, RejectsACountThatDoesNotMatch) {
  std::string p = EncodeClusterPayload(SampleBatch(3));
  ASSERT_EQ(p.substr(0, 7), "mb2;1:3");
  p[6] = '4';
  EXPECT_EQ(DecodeClusterPayload(7, p).status().code(), absl::StatusCode::kInvalidArgument);
  p[6] = '2';
  EXPECT_EQ(DecodeClusterPayload(7, p).status().code(), absl::StatusCode::kInvalidArgument);
  p[6] = '0';
  EXPECT_EQ(DecodeClusterPayload(7, p).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClusterPayload, RejectsSeqsThatDoNotAscend) {
  std::vector<ClusterMessage> batch = SampleBatch(3);
  batch[2].seq = batch[1].seq;
  EXPECT_FALSE(DecodeClusterPayload(7, EncodeClusterPayload(batch)).ok());
}

TEST(ClusterPayload, RejectsATruncatedBatch) {
  const std::string p = EncodeClusterPayload(SampleBatch(3));
  EXPECT_FALSE(DecodeClusterPayload(7, p.substr(0, p.size() - 1)).ok());
  EXPECT_FALSE(DecodeClusterPayload(7, p + "x").ok());
}

TEST(ClusterPayload, RejectsAnUnknownTag) {
  EXPECT_FALSE(DecodeClusterPayload(7, "mb2;1:1").ok());
  EXPECT_FALSE(DecodeClusterPayload(7, "").ok());
}

TEST(ClusterMessage, KeysOfARoomShareOneHashTag) {
  EXPECT_EQ(RoomSeqKey("mc", 12), "mc:{room:12}:seq");
  EXPECT_EQ(RoomLogKey("mc", 12), "mc:{room:12}:log");
  EXPECT_EQ(DedupeKey("mc", 12, "a9", 3), "mc:{room:12}:dd:a9:3");
}

TEST(ClusterMessage, ParsesTheRoomOfItsOwnChannelsOnly) {
  absl::StatusOr<uint64_t> room = ParseRoomChannel("mc", RoomChannel("mc", 12));
  ASSERT_TRUE(room.ok()) << room.status();
  EXPECT_EQ(*room, 12u);
  EXPECT_FALSE(ParseRoomChannel("other", RoomChannel("mc", 12)).ok());
  EXPECT_FALSE(ParseRoomChannel("mc", "mc:{room:x}:ch").ok());
}

}  // namespace
}  // namespace muxchat::server
