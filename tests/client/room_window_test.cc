#include "src/client/room_window.h"

#include <string>

#include "gtest/gtest.h"
#include "src/client/tui_text.h"

namespace muxchat::client {
namespace {

ScrollLine Chat(const std::string& nick, const std::string& text, bool mention = false) {
  ScrollLine line;
  line.kind = LineKind::kChat;
  line.time = "12:00";
  line.nick = nick;
  line.text = text;
  line.mention = mention;
  return line;
}

std::string RowText(const ScreenRow& row) {
  std::string out;
  for (const Segment& s : row) out += s.text;
  return out;
}

TEST(RoomWindow, BackgroundChatCountsAsUnread) {
  RoomWindow w(1, "lobby");
  w.Add(Chat("bob", "hi"));
  w.Add(Chat("bob", "there"));
  EXPECT_EQ(w.unread(), 2);
  EXPECT_FALSE(w.mentioned());
}

TEST(RoomWindow, ActiveWindowHasNoUnread) {
  RoomWindow w(1, "lobby");
  w.Activate();
  w.Add(Chat("bob", "hi"));
  EXPECT_EQ(w.unread(), 0);
}

TEST(RoomWindow, SystemLinesAndHistoryAreNotUnread) {
  RoomWindow w(1, "lobby");
  ScrollLine system;
  system.text = "carol joined";
  w.Add(system);
  ScrollLine replay = Chat("bob", "old");
  replay.history = true;
  w.Add(replay);
  EXPECT_EQ(w.unread(), 0);
}

TEST(RoomWindow, MentionInTheBackgroundIsFlaggedUntilActivated) {
  RoomWindow w(1, "lobby");
  w.Add(Chat("bob", "alice: look", true));
  EXPECT_TRUE(w.mentioned());
  w.Activate();
  EXPECT_FALSE(w.mentioned());
  EXPECT_EQ(w.unread(), 0);
}

TEST(RoomWindow, RenderShowsTheNewestRowsBottomAligned) {
  RoomWindow w(1, "lobby");
  for (int i = 0; i < 10; ++i) w.Add(Chat("bob", "m" + std::to_string(i)));
  const auto rows = w.Render(40, 3);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(RowText(rows[0]), "12:00 <bob> m7");
  EXPECT_EQ(RowText(rows[2]), "12:00 <bob> m9");
}

TEST(RoomWindow, LongLinesWrapIndentedUnderTheText) {
  RoomWindow w(1, "lobby");
  w.Add(Chat("bob", "aaaa bbbb cccc"));
  const auto rows = w.Render(22, 5);  // 12 columns of prefix, 10 for text
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(RowText(rows[0]), "12:00 <bob> aaaa bbbb ");
  EXPECT_EQ(RowText(rows[1]), "            cccc");
}

TEST(RoomWindow, MultiLineMessagesShowAsIndentedLines) {
  RoomWindow w(1, "lobby");
  w.Add(Chat("bob", "one\ntwo"));
  const auto rows = w.Render(40, 5);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(RowText(rows[1]), "            two");
}

TEST(RoomWindow, RowsNeverExceedTheWidthWithWideCharacters) {
  RoomWindow w(1, "lobby");
  std::string cjk;
  for (int i = 0; i < 40; ++i) cjk += "\xe4\xbd\xa0";
  w.Add(Chat("bob", cjk + " \xf0\x9f\x98\x80\xf0\x9f\x98\x80"));
  for (int width : {30, 17, 8, 3}) {
    for (const ScreenRow& row : w.Render(width, 100)) EXPECT_LE(TextColumns(RowText(row)), width) << width;
  }
}

TEST(RoomWindow, PageUpShowsOlderRowsAndClampsAtTheTop) {
  RoomWindow w(1, "lobby");
  for (int i = 0; i < 10; ++i) w.Add(Chat("bob", "m" + std::to_string(i)));
  w.ScrollUp(4);
  auto rows = w.Render(40, 3);
  EXPECT_EQ(RowText(rows[2]), "12:00 <bob> m5");
  w.ScrollUp(100);
  rows = w.Render(40, 3);
  EXPECT_EQ(RowText(rows[0]), "12:00 <bob> m0");
  w.ScrollDown(100);
  rows = w.Render(40, 3);
  EXPECT_EQ(RowText(rows[2]), "12:00 <bob> m9");
}

TEST(RoomWindow, NewLinesDoNotMoveAViewScrolledBack) {
  RoomWindow w(1, "lobby");
  w.Activate();
  for (int i = 0; i < 10; ++i) w.Add(Chat("bob", "m" + std::to_string(i)));
  w.ScrollUp(4);
  const std::string before = RowText(w.Render(40, 3)[0]);
  w.Add(Chat("bob", "new"));
  EXPECT_EQ(RowText(w.Render(40, 3)[0]), before);
}

TEST(RoomWindow, ReadMarkerSeparatesWhatWasSeenFromWhatIsNew) {
  RoomWindow w(1, "lobby");
  w.Activate();
  w.Add(Chat("bob", "seen"));
  w.Deactivate();
  w.Add(Chat("bob", "new"));
  w.Activate();
  const auto rows = w.Render(40, 5);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1][0].style, Style::kMarker);
  EXPECT_NE(RowText(rows[1]).find(" new "), std::string::npos);
}

TEST(RoomWindow, ScrollbackIsBounded) {
  RoomWindow w(1, "lobby", 100);
  for (int i = 0; i < 1000; ++i) w.Add(Chat("bob", "m"));
  EXPECT_EQ(w.line_count(), 100u);
}

TEST(RoomWindow, OwnMessageIsPendingUntilConfirmed) {
  RoomWindow w(1, "lobby");
  ScrollLine own;
  own.kind = LineKind::kOwn;
  own.nick = "alice";
  own.text = "hi";
  own.pending = true;
  own.request_id = 7;
  w.Add(own);
  EXPECT_EQ(w.Render(40, 1)[0].back().style, Style::kPending);
  EXPECT_TRUE(w.Confirm(7));
  EXPECT_EQ(w.Render(40, 1)[0].back().style, Style::kPlain);
  EXPECT_FALSE(w.Confirm(7));
}

TEST(RoomWindow, MentionedTextIsHighlighted) {
  RoomWindow w(1, "lobby");
  w.Add(Chat("bob", "alice: hi", true));
  EXPECT_EQ(w.Render(40, 1)[0].back().style, Style::kMention);
}

}  // namespace
}  // namespace muxchat::client
