// The message block body (schema version 2): what a builder writes decodes
// to the same records, and a damaged body is kDataLoss, never a short or
// wrong list passed off as whole.
#include "src/server/message_block.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

MessageRecord Record(uint64_t seq, int64_t ts, std::string text, uint64_t client_msg_id = 0) {
  MessageRecord m;
  m.room_id = 3;
  m.seq = seq;
  m.sender = "alice";
  m.sender_account_id = 7;
  m.client_msg_id = client_msg_id;
  m.timestamp_unix_micros = ts;
  m.text = std::move(text);
  return m;
}

void ExpectSame(const MessageRecord& got, const MessageRecord& want) {
  EXPECT_EQ(got.room_id, want.room_id);
  EXPECT_EQ(got.seq, want.seq);
  EXPECT_EQ(got.sender, want.sender);
  EXPECT_EQ(got.sender_account_id, want.sender_account_id);
  EXPECT_EQ(got.client_msg_id, want.client_msg_id);
  EXPECT_EQ(got.timestamp_unix_micros, want.timestamp_unix_micros);
  EXPECT_EQ(got.text, want.text);
}

TEST(MessageBlock, RoundTripsEveryFieldIncludingExtremes) {
  std::vector<MessageRecord> in = {
      Record(1, 1'700'000'000'000'000, "hello", 42),
      Record(2, 1'699'999'999'000'000, "", 0),  // a clock that stepped back
      Record(1000, -5, std::string(3000, '\0'), std::numeric_limits<uint64_t>::max()),
      Record(std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max(), "zoë", 1),
  };
  in[1].sender = "";
  in[1].sender_account_id = 0;
  in[2].sender = "Zoë";
  MessageBlockBuilder builder;
  for (const MessageRecord& m : in) {
    ASSERT_TRUE(builder.CanAppend(m.seq));
    builder.Append(m);
  }
  EXPECT_EQ(builder.first_seq(), 1u);
  EXPECT_EQ(builder.last_seq(), static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(builder.count(), 4u);
  std::vector<MessageRecord> out;
  ASSERT_TRUE(DecodeMessageBlock(3, builder.body(), &out).ok());
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) ExpectSame(out[i], in[i]);
}

TEST(MessageBlock, ASeqThatDoesNotAscendCannotBeAppended) {
  MessageBlockBuilder builder;
  EXPECT_TRUE(builder.CanAppend(5));
  builder.Append(Record(5, 0, "x"));
  EXPECT_FALSE(builder.CanAppend(5));
  EXPECT_FALSE(builder.CanAppend(4));
  EXPECT_TRUE(builder.CanAppend(6));
  builder.Clear();
  EXPECT_TRUE(builder.empty());
  EXPECT_TRUE(builder.CanAppend(1));
}

TEST(MessageBlock, SkipTextLeavesTextEmptyAndTheRestWhole) {
  MessageBlockBuilder builder;
  builder.Append(Record(1, 10, "first", 5));
  builder.Append(Record(2, 20, "second", 6));
  std::vector<MessageRecord> out;
  ASSERT_TRUE(DecodeMessageBlock(3, builder.body(), &out, /*skip_text=*/true).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].text, "");
  EXPECT_EQ(out[1].client_msg_id, 6u);
  EXPECT_EQ(out[1].timestamp_unix_micros, 20);
}

TEST(MessageBlock, EveryTruncationIsDataLossOrACompleteRecordBoundary) {
  MessageBlockBuilder builder;
  builder.Append(Record(1, 10, "first"));
  const size_t first_record = builder.body().size();
  builder.Append(Record(2, 20, "second"));
  const std::string body = builder.body();
  for (size_t len = 1; len < body.size(); ++len) {
    std::vector<MessageRecord> out;
    const absl::Status status = DecodeMessageBlock(3, absl::string_view(body).substr(0, len), &out);
    if (len == first_record) {
      EXPECT_TRUE(status.ok()) << len;
      EXPECT_EQ(out.size(), 1u);
    } else {
      EXPECT_TRUE(absl::IsDataLoss(status)) << len << ": " << status;
    }
  }
}

TEST(MessageBlock, AZeroSeqDeltaIsDataLossNamingTheRoom) {
  // seq delta 0, account 0, client id 0, ts 0, empty sender, empty text.
  const std::string body("\x00\x00\x00\x00\x00\x00", 6);
  std::vector<MessageRecord> out;
  const absl::Status status = DecodeMessageBlock(9, body, &out);
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_NE(status.message().find("room 9"), std::string::npos) << status;
}

TEST(MessageBlock, AVarintLongerThanTenBytesIsDataLoss) {
  const std::string body(11, '\x80');
  std::vector<MessageRecord> out;
  EXPECT_TRUE(absl::IsDataLoss(DecodeMessageBlock(1, body, &out)));
}

TEST(MessageBlock, ATenByteVarintPast64BitsIsDataLoss) {
  // A seq delta of nine continuation bytes and a tenth of 2: bit 64 and up.
  std::string body(9, '\xff');
  body += std::string("\x02\x00\x00\x00\x00\x00", 6);
  std::vector<MessageRecord> out;
  EXPECT_TRUE(absl::IsDataLoss(DecodeMessageBlock(1, body, &out)));
  body[9] = '\x01';  // 2^64 - 1: the largest that fits decodes
  out.clear();
  EXPECT_TRUE(DecodeMessageBlock(1, body, &out).ok());
}

TEST(MessageBlock, AStoredBlockMustHoldExactlyTheSeqsItsRowSays) {
  MessageBlockBuilder b;
  for (uint64_t seq = 5; seq <= 7; ++seq) {
    MessageRecord m;
    m.seq = seq;
    m.sender = "s";
    b.Append(m);
  }
  std::vector<MessageRecord> out;
  EXPECT_TRUE(DecodeStoredBlock(1, 5, 7, b.body(), &out).ok());
  EXPECT_EQ(out.size(), 3u);
  for (auto [first, last] : {std::pair<uint64_t, uint64_t>{5, 8}, {4, 7}, {6, 7}}) {
    out.clear();
    EXPECT_TRUE(absl::IsDataLoss(DecodeStoredBlock(1, first, last, b.body(), &out))) << first << ".." << last;
  }
  out.clear();
  EXPECT_TRUE(absl::IsDataLoss(DecodeStoredBlock(1, 5, 7, "", &out)));
}

TEST(MessageBlock, ALengthPastTheEndIsDataLoss) {
  // seq 1, account 0, client id 0, ts 0, sender length 100 with 1 byte after it.
  const std::string body("\x01\x00\x00\x00\x64x", 6);
  std::vector<MessageRecord> out;
  EXPECT_TRUE(absl::IsDataLoss(DecodeMessageBlock(1, body, &out)));
}

}  // namespace
}  // namespace muxchat::server
