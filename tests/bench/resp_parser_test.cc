#include "bench/load/resp_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace muxchat::bench {
namespace {

TEST(RespParser, ParsesMessagePush) {
  const std::string in = "*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$5\r\nhello\r\n";
  RespValue v;
  auto used = ParseResp(in, &v);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, in.size());
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_EQ(v.elements[0].str, "message");
  EXPECT_EQ(v.elements[1].str, "room");
  EXPECT_EQ(v.elements[2].str, "hello");
}

TEST(RespParser, EveryProperPrefixIsIncomplete) {
  const std::string in = "*3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:1\r\n";
  RespValue v;
  for (size_t n = 0; n < in.size(); ++n) {
    auto used = ParseResp(in.substr(0, n), &v);
    ASSERT_TRUE(used.ok()) << n;
    EXPECT_EQ(*used, 0u) << n;
  }
  EXPECT_EQ(*ParseResp(in, &v), in.size());
  EXPECT_EQ(v.elements[2].integer, 1);
}

TEST(RespParser, BulkMayContainCrlf) {
  const std::string in = "$4\r\na\r\nb\r\n+OK\r\n";
  RespValue v;
  auto used = ParseResp(in, &v);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(v.str, "a\r\nb");
  EXPECT_EQ(*ParseResp(absl::string_view(in).substr(*used), &v), 5u);
  EXPECT_EQ(v.type, '+');
  EXPECT_EQ(v.str, "OK");
}

TEST(RespParser, ParsesIntegerErrorAndNullBulk) {
  RespValue v;
  EXPECT_EQ(*ParseResp(":42\r\n", &v), 5u);
  EXPECT_EQ(v.integer, 42);
  EXPECT_EQ(*ParseResp("-ERR no\r\n", &v), 9u);
  EXPECT_EQ(v.type, '-');
  EXPECT_EQ(*ParseResp("$-1\r\n", &v), 5u);
  EXPECT_TRUE(v.is_null);
}

TEST(RespParser, RejectsUnknownTypeByte) {
  RespValue v;
  EXPECT_EQ(ParseResp("?x\r\n", &v).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RespParser, RejectsBadBulkTerminator) {
  RespValue v;
  EXPECT_FALSE(ParseResp("$2\r\nabXY", &v).ok());
}

TEST(RespParser, RejectsNestedArrays) {
  RespValue v;
  EXPECT_FALSE(ParseResp("*1\r\n*0\r\n", &v).ok());
}

// An XREAD reply: [[key, [[id, [field, value]], [id, [field, value]]]]].
const std::string kXreadReply =
    "*1\r\n*2\r\n$6\r\nroom:r\r\n*2\r\n"
    "*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\np\r\n$2\r\nab\r\n"
    "*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\np\r\n$2\r\ncd\r\n";

TEST(RespTree, ParsesNestedReplyInPreOrderWithSubtreeEnds) {
  std::vector<RespNode> n;
  auto used = ParseRespTree(kXreadReply, &n);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, kXreadReply.size());
  ASSERT_EQ(n.size(), 14u);
  EXPECT_EQ(n[0].end, 14u);
  EXPECT_EQ(n[2].str, "room:r");
  EXPECT_EQ(n[3].integer, 2);
  EXPECT_EQ(n[4].end, 9u);  // first entry: itself, id, fields array, 2 fields
  EXPECT_EQ(n[5].str, "1-0");
  EXPECT_EQ(n[8].str, "ab");
  EXPECT_EQ(n[10].str, "2-0");
  EXPECT_EQ(n[13].str, "cd");
}

TEST(RespTree, EveryProperPrefixIsIncomplete) {
  std::vector<RespNode> n;
  for (size_t k = 0; k < kXreadReply.size(); ++k) {
    auto used = ParseRespTree(absl::string_view(kXreadReply).substr(0, k), &n);
    ASSERT_TRUE(used.ok()) << k;
    EXPECT_EQ(*used, 0u) << k;
  }
}

TEST(RespTree, ParsesNullArrayAndScalars) {
  std::vector<RespNode> n;
  EXPECT_EQ(*ParseRespTree("*-1\r\n", &n), 5u);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_TRUE(n[0].is_null);
  EXPECT_EQ(*ParseRespTree("-ERR x\r\n", &n), 8u);
  EXPECT_EQ(n[0].type, '-');
}

TEST(RespTree, RejectsNestingDeeperThanTheLimit) {
  std::string deep;
  for (int i = 0; i <= kMaxRespDepth; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  std::vector<RespNode> n;
  EXPECT_EQ(ParseRespTree(deep, &n).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace muxchat::bench
