#include "src/client/input_line.h"

#include <string>

#include "gtest/gtest.h"
#include "src/client/tui_text.h"

namespace muxchat::client {
namespace {

void Type(InputLine& line, const std::string& text) {
  for (char32_t c : ToCodePoints(text)) line.Insert(c);
}

TEST(InputLine, InsertsAtTheCursor) {
  InputLine line;
  Type(line, "hllo");
  line.Home();
  line.Right();
  line.Insert(U'e');
  EXPECT_EQ(line.Utf8(), "hello");
  EXPECT_EQ(line.cursor(), 2u);
}

TEST(InputLine, BackspaceAndDeleteAroundTheCursor) {
  InputLine line;
  Type(line, "abcd");
  line.Left();
  line.Backspace();  // removes c
  line.Delete();     // removes d
  EXPECT_EQ(line.Utf8(), "ab");
}

TEST(InputLine, KillKeys) {
  InputLine line;
  Type(line, "one two three");
  line.KillWordBack();
  EXPECT_EQ(line.Utf8(), "one two ");
  line.Home();
  line.Right();
  line.KillToEnd();
  EXPECT_EQ(line.Utf8(), "o");
  line.KillToStart();
  EXPECT_TRUE(line.empty());
}

TEST(InputLine, HistoryRecallsOlderLinesAndKeepsTheDraft) {
  InputLine line;
  Type(line, "first");
  line.Submit();
  Type(line, "second");
  line.Submit();
  Type(line, "draft");
  line.HistoryUp();
  EXPECT_EQ(line.Utf8(), "second");
  line.HistoryUp();
  EXPECT_EQ(line.Utf8(), "first");
  line.HistoryUp();
  EXPECT_EQ(line.Utf8(), "first");
  line.HistoryDown();
  line.HistoryDown();
  EXPECT_EQ(line.Utf8(), "draft");
}

TEST(InputLine, HistoryIsBoundedAndSkipsRepeats) {
  InputLine line(100, 3);
  for (const char* text : {"a", "b", "b", "c", "d"}) {
    Type(line, text);
    line.Submit();
  }
  EXPECT_EQ(line.history_size(), 3u);
  line.HistoryUp();
  line.HistoryUp();
  line.HistoryUp();
  EXPECT_EQ(line.Utf8(), "b");
}

TEST(InputLine, RefusesCharactersBeyondItsCapacity) {
  InputLine line(5);
  Type(line, "12345");
  EXPECT_FALSE(line.Insert(U'6'));
  EXPECT_EQ(line.Utf8(), "12345");
}

TEST(InputLine, TwentyThousandCharacterPasteFits) {
  InputLine line;
  Type(line, std::string(20000, 'x'));
  EXPECT_EQ(line.text().size(), 20000u);
}

TEST(InputLine, LayoutScrollsToKeepTheCursorVisible) {
  InputLine line;
  Type(line, "abcdefghij");
  const InputLine::View view = line.Layout(5);
  EXPECT_EQ(view.text, "ghij");
  EXPECT_EQ(view.cursor_column, 4);
  line.Home();
  const InputLine::View start = line.Layout(5);
  EXPECT_EQ(start.text, "abcde");
  EXPECT_EQ(start.cursor_column, 0);
}

TEST(InputLine, LayoutCountsWideCharactersAsTwoColumns) {
  InputLine line;
  Type(line, "\xe4\xbd\xa0\xe5\xa5\xbd");  // 你好
  const InputLine::View view = line.Layout(20);
  EXPECT_EQ(view.cursor_column, 4);
  const InputLine::View narrow = line.Layout(3);
  EXPECT_EQ(narrow.text, "\xe5\xa5\xbd");
  EXPECT_EQ(narrow.cursor_column, 2);
}

}  // namespace
}  // namespace muxchat::client
