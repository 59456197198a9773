#include "bench/load/irc_line.h"

#include <gtest/gtest.h>

namespace muxchat::bench {
namespace {

TEST(IrcLine, ParsesPrivmsgWithPrefixAndTrailing) {
  IrcMessage m;
  ASSERT_TRUE(ParseIrcLine(":nick!~u@host PRIVMSG #room :hello there :)", &m));
  EXPECT_EQ(m.prefix, "nick!~u@host");
  EXPECT_EQ(m.command, "PRIVMSG");
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0], "#room");
  EXPECT_EQ(m.params[1], "hello there :)");
}

TEST(IrcLine, ParsesPingWithoutPrefix) {
  IrcMessage m;
  ASSERT_TRUE(ParseIrcLine("PING :irc.example", &m));
  EXPECT_EQ(m.prefix, "");
  EXPECT_EQ(m.command, "PING");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0], "irc.example");
}

TEST(IrcLine, ParsesNumericWithMiddleParams) {
  IrcMessage m;
  ASSERT_TRUE(ParseIrcLine(":srv 366 me #room :End of NAMES list", &m));
  EXPECT_EQ(m.command, "366");
  ASSERT_EQ(m.params.size(), 3u);
  EXPECT_EQ(m.params[1], "#room");
}

TEST(IrcLine, RejectsLineWithoutCommand) {
  IrcMessage m;
  EXPECT_FALSE(ParseIrcLine(":prefixonly", &m));
  EXPECT_FALSE(ParseIrcLine("", &m));
}

TEST(IrcLine, SplitsLinesAtLfDroppingCr) {
  absl::string_view line;
  size_t used;
  ASSERT_TRUE(NextIrcLine("PING :x\r\nPONG", &line, &used));
  EXPECT_EQ(line, "PING :x");
  EXPECT_EQ(used, 9u);
  EXPECT_FALSE(NextIrcLine("PONG", &line, &used));
  EXPECT_EQ(used, 0u);
}

}  // namespace
}  // namespace muxchat::bench
