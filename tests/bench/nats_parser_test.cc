#include "bench/load/nats_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace muxchat::bench {
namespace {

TEST(NatsParser, ParsesMsgWithPayload) {
  const std::string in = "MSG room 1 5\r\nhello\r\n";
  NatsOp op;
  auto used = ParseNatsOp(in, &op);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, in.size());
  EXPECT_EQ(op.kind, NatsOp::kMsg);
  EXPECT_EQ(op.subject, "room");
  EXPECT_EQ(op.sid, "1");
  EXPECT_EQ(op.reply_to, "");
  EXPECT_EQ(op.payload, "hello");
}

TEST(NatsParser, ParsesMsgWithReplyTo) {
  NatsOp op;
  ASSERT_TRUE(ParseNatsOp("MSG a.b 7 _INBOX.x 2\r\nhi\r\n", &op).ok());
  EXPECT_EQ(op.reply_to, "_INBOX.x");
  EXPECT_EQ(op.payload, "hi");
}

TEST(NatsParser, ParsesHmsgAsMsgWithHeadersAndBody) {
  const std::string headers = "NATS/1.0\r\nK: v\r\n\r\n";
  const std::string in = "HMSG d 2 $JS.ACK.x " + std::to_string(headers.size()) + " " +
                         std::to_string(headers.size() + 5) + "\r\n" + headers + "hello\r\n";
  NatsOp op;
  auto used = ParseNatsOp(in, &op);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, in.size());
  EXPECT_EQ(op.kind, NatsOp::kMsg);
  EXPECT_EQ(op.subject, "d");
  EXPECT_EQ(op.sid, "2");
  EXPECT_EQ(op.reply_to, "$JS.ACK.x");
  EXPECT_EQ(op.headers, headers);
  EXPECT_EQ(op.payload, "hello");
}

TEST(NatsParser, ParsesStatusHmsgWithoutBody) {
  NatsOp op;
  ASSERT_TRUE(ParseNatsOp("HMSG _INBOX.a 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n", &op).ok());
  EXPECT_EQ(op.headers, "NATS/1.0 503\r\n\r\n");
  EXPECT_EQ(op.payload, "");
}

TEST(NatsParser, RejectsHmsgHeadersLongerThanTotal) {
  NatsOp op;
  EXPECT_EQ(ParseNatsOp("HMSG a 1 9 5\r\nabcde\r\n", &op).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NatsParser, MsgAfterHmsgHasNoHeaders) {
  NatsOp op;
  ASSERT_TRUE(ParseNatsOp("HMSG a 1 12 12\r\nNATS/1.0\r\n\r\n\r\n", &op).ok());
  ASSERT_TRUE(ParseNatsOp("MSG a 1 1\r\nx\r\n", &op).ok());
  EXPECT_EQ(op.headers, "");
}

TEST(NatsParser, EveryProperPrefixIsIncomplete) {
  const std::string in = "MSG room 1 12\r\nab\r\ncdefghij\r\n";
  NatsOp op;
  for (size_t n = 0; n < in.size(); ++n) {
    auto used = ParseNatsOp(in.substr(0, n), &op);
    ASSERT_TRUE(used.ok()) << n;
    EXPECT_EQ(*used, 0u) << n;
  }
  EXPECT_EQ(*ParseNatsOp(in, &op), in.size());
  EXPECT_EQ(op.payload, "ab\r\ncdefghij");
}

TEST(NatsParser, ParsesControlOperations) {
  NatsOp op;
  EXPECT_EQ(*ParseNatsOp("PING\r\n", &op), 6u);
  EXPECT_EQ(op.kind, NatsOp::kPing);
  EXPECT_EQ(*ParseNatsOp("PONG\r\n", &op), 6u);
  EXPECT_EQ(op.kind, NatsOp::kPong);
  EXPECT_EQ(*ParseNatsOp("+OK\r\n", &op), 5u);
  EXPECT_EQ(op.kind, NatsOp::kOk);
  ASSERT_TRUE(ParseNatsOp("-ERR 'Slow Consumer'\r\n", &op).ok());
  EXPECT_EQ(op.kind, NatsOp::kErr);
  EXPECT_EQ(op.args, "'Slow Consumer'");
  ASSERT_TRUE(ParseNatsOp("INFO {\"server_id\":\"x\"}\r\n", &op).ok());
  EXPECT_EQ(op.kind, NatsOp::kInfo);
  EXPECT_EQ(op.args, "{\"server_id\":\"x\"}");
}

TEST(NatsParser, RejectsUnknownOperation) {
  NatsOp op;
  EXPECT_FALSE(ParseNatsOp("BOGUS x\r\n", &op).ok());
}

TEST(NatsParser, RejectsMissingPayloadTerminator) {
  NatsOp op;
  EXPECT_FALSE(ParseNatsOp("MSG s 1 2\r\nabXY", &op).ok());
}

}  // namespace
}  // namespace muxchat::bench
