#include "src/client/message_format.h"

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

// 2026-11-25T08:09:07.123456Z
constexpr int64_t kMicros = 1795594147123456;

v1::ChatMessage Message(const std::string& sender, const std::string& text, bool replay = false) {
  v1::ChatMessage m;
  m.set_sender(sender);
  m.set_text(text);
  m.set_seq(7);
  m.set_timestamp_unix_micros(kMicros);
  m.set_replay(replay);
  return m;
}

TEST(MessageFormat, ClockIsHoursMinutesSecondsInTheGivenZone) {
  EXPECT_EQ(FormatClock(kMicros, absl::UTCTimeZone()), "08:09:07");
  EXPECT_EQ(FormatClock(kMicros, absl::FixedTimeZone(2 * 3600)), "10:09:07");
}

TEST(MessageFormat, ChatLineWithoutColour) {
  EXPECT_EQ(FormatChatLine(Message("bob", "hi there"), "", LineStyle{}), "[08:09:07] <bob> hi there");
}

TEST(MessageFormat, ChatLineFromAnotherRoomIsPrefixedWithIt) {
  EXPECT_EQ(FormatChatLine(Message("bob", "hi"), "games", LineStyle{}), "[games] [08:09:07] <bob> hi");
}

TEST(MessageFormat, HistoryIsMarked) {
  EXPECT_EQ(FormatChatLine(Message("bob", "old", true), "", LineStyle{}), "history | [08:09:07] <bob> old");
}

TEST(MessageFormat, ColourOnlyWhenAsked) {
  LineStyle colour;
  colour.colour = true;
  EXPECT_NE(FormatChatLine(Message("bob", "x"), "", colour).find("\x1b["), std::string::npos);
  EXPECT_EQ(FormatChatLine(Message("bob", "x"), "", LineStyle{}).find('\x1b'), std::string::npos);
  EXPECT_EQ(FormatSystemLine("bob joined", LineStyle{}), "-- bob joined");
  EXPECT_EQ(FormatErrorLine("no", LineStyle{}), "error: no");
}

TEST(MessageFormat, ControlCharactersCannotReachTheTerminal) {
  const std::string line = FormatChatLine(Message("eve", "a\x1b[2Jb\rc\x7f\xc2\x9b" "d\te"), "", LineStyle{});
  EXPECT_EQ(line.find('\x1b'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line, "[08:09:07] <eve> a^[[2Jb^Mc^?<U+009B>d\te");
}

TEST(MessageFormat, SanitizeKeepsUtf8) {
  EXPECT_EQ(SanitizeForTerminal("h\xc3\xa9llo \xe2\x9c\x93"), "h\xc3\xa9llo \xe2\x9c\x93");
}

TEST(MessageFormat, JsonStringEscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(JsonString(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(JsonString(std::string("nul\0end", 7)), "\"nul\\u0000end\"");
  EXPECT_EQ(JsonString("\xc3\xa9"), "\"\xc3\xa9\"");
}

TEST(MessageFormat, MessageJsonHasEveryField) {
  EXPECT_EQ(FormatMessageJson("lob\"by", Message("bob", "say \"hi\"\n")),
            "{\"room\":\"lob\\\"by\",\"seq\":7,\"sender\":\"bob\",\"time\":\"2026-11-25T08:09:07.123456Z\","
            "\"time_unix_micros\":1795594147123456,\"text\":\"say \\\"hi\\\"\\n\"}");
}

TEST(MessageFormat, MultiLineMessageIsIndentedUnderTheFirstLine) {
  v1::ChatMessage m;
  m.set_sender("bob");
  m.set_text("one\ntwo\x1b[2J\r\nthree");
  m.set_timestamp_unix_micros(0);
  const std::string indent(std::string("[00:00:00] <bob> ").size(), ' ');
  EXPECT_EQ(FormatChatLines(m, "", LineStyle{}),
            "[00:00:00] <bob> one\n" + indent + "two^[[2J\n" + indent + "three");
}

TEST(MessageFormat, OneLineMessageIsTheSameAsFormatChatLine) {
  v1::ChatMessage m;
  m.set_sender("bob");
  m.set_text("hi");
  EXPECT_EQ(FormatChatLines(m, "r", LineStyle{}), FormatChatLine(m, "r", LineStyle{}));
}

TEST(MessageFormat, PendingLineShowsTheFirstLineMarkedSending) {
  EXPECT_EQ(FormatPendingLine("alice", "hello", ""), "[sending] <alice> hello");
  EXPECT_EQ(FormatPendingLine("alice", "a\nb", "lobby"), "[lobby] [sending] <alice> a \xe2\x80\xa6");
}

}  // namespace
}  // namespace muxchat::client
