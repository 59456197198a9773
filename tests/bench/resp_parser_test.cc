#include "bench/load/resp_parser.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace muxchat::bench
