#include "src/client/window_list.h"

#include <string>

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

std::string BarText(const ScreenRow& row) {
  std::string out;
  for (const Segment& s : row) out += s.text;
  return out;
}

ScrollLine Chat(const std::string& text, bool mention = false) {
  ScrollLine line;
  line.kind = LineKind::kChat;
  line.nick = "bob";
  line.text = text;
  line.mention = mention;
  return line;
}

TEST(WindowList, StartsWithTheActiveStatusWindow) {
  WindowList list;
  EXPECT_EQ(list.size(), 1u);
  EXPECT_EQ(list.active().room_id(), 0u);
  EXPECT_EQ(BarText(list.StatusBar(80)), "[1:status]");
}

TEST(WindowList, StatusBarShowsUnreadCountsOfBackgroundRooms) {
  WindowList list;
  list.Open(10, "lobby");
  list.Open(11, "dev");
  list.ActivateRoom(11);
  list.Find(10)->Add(Chat("hi"));
  list.Find(10)->Add(Chat("there"));
  EXPECT_EQ(BarText(list.StatusBar(80)), "1:status 2:lobby(2) [3:dev]");
}

TEST(WindowList, MentionMarksTheTabAndItsStyle) {
  WindowList list;
  list.Open(10, "lobby");
  list.Find(10)->Add(Chat("alice: hi", true));
  const ScreenRow bar = list.StatusBar(80);
  EXPECT_EQ(BarText(bar), "[1:status] 2:lobby(1!)");
  EXPECT_EQ(bar.back().style, Style::kTabMention);
}

TEST(WindowList, SwitchingClearsTheUnreadCount) {
  WindowList list;
  list.Open(10, "lobby");
  list.Find(10)->Add(Chat("hi"));
  list.Next();
  EXPECT_EQ(list.active().name(), "lobby");
  EXPECT_EQ(BarText(list.StatusBar(80)), "1:status [2:lobby]");
}

TEST(WindowList, ClosingTheActiveRoomActivatesThePreviousWindow) {
  WindowList list;
  list.Open(10, "lobby");
  list.Open(11, "dev");
  list.ActivateRoom(11);
  list.Close(11);
  EXPECT_EQ(list.active().name(), "lobby");
  EXPECT_EQ(list.size(), 2u);
}

TEST(WindowList, FindByNameIgnoresCase) {
  WindowList list;
  list.Open(10, "Lobby");
  ASSERT_NE(list.FindByName("lobby"), nullptr);
  EXPECT_EQ(list.FindByName("nope"), nullptr);
}

TEST(WindowList, TabsThatDoNotFitAreCounted) {
  WindowList list;
  for (uint64_t i = 1; i <= 20; ++i) list.Open(i, "room" + std::to_string(i));
  const std::string bar = BarText(list.StatusBar(40));
  EXPECT_LE(bar.size(), 40u);
  EXPECT_NE(bar.find(" +"), std::string::npos) << bar;
}

TEST(WindowList, AMentionInAHiddenTabHighlightsTheOverflowCount) {
  WindowList list;
  for (uint64_t i = 1; i <= 20; ++i) list.Open(i, "room" + std::to_string(i));
  list.Find(20)->Add(Chat("alice: psst", true));
  const ScreenRow bar = list.StatusBar(40);
  ASSERT_FALSE(bar.empty());
  EXPECT_EQ(bar.back().text.substr(0, 2), " +");
  EXPECT_EQ(bar.back().style, Style::kTabMention);
}

}  // namespace
}  // namespace muxchat::client
