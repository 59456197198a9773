#include "src/client/completion.h"

#include <string>

#include "gtest/gtest.h"
#include "src/client/tui_text.h"

namespace muxchat::client {
namespace {

CompletionSources Sources() {
  CompletionSources s;
  s.commands = {"/join", "/leave", "/list", "/names", "/quit"};
  s.rooms = {"lobby", "dev", "design"};
  s.nicks = {"alice", "albert", "bob"};
  return s;
}

// Completes `typed` (cursor at the end) `tabs` times; returns the line.
std::string Tab(const std::string& typed, int tabs = 1) {
  Completer completer;
  std::u32string text = ToCodePoints(typed);
  size_t cursor = text.size();
  for (int i = 0; i < tabs; ++i) completer.Complete(&text, &cursor, Sources());
  return ToUtf8(text);
}

TEST(Completer, CompletesACommand) { EXPECT_EQ(Tab("/na"), "/names "); }

TEST(Completer, CompletesARoomAfterARoomCommand) { EXPECT_EQ(Tab("/join lo"), "/join lobby "); }

TEST(Completer, NickAtTheStartOfTheLineGetsAColon) { EXPECT_EQ(Tab("bo"), "bob: "); }

TEST(Completer, NickInsideTheLineGetsASpace) { EXPECT_EQ(Tab("hi bo"), "hi bob "); }

TEST(Completer, IgnoresLetterCase) { EXPECT_EQ(Tab("hi BO"), "hi bob "); }

TEST(Completer, RepeatedTabCyclesThroughMatchesInOrder) {
  EXPECT_EQ(Tab("al", 1), "albert: ");
  EXPECT_EQ(Tab("al", 2), "alice: ");
  EXPECT_EQ(Tab("al", 3), "albert: ");
  EXPECT_EQ(Tab("/join d", 2), "/join dev ");
}

TEST(Completer, NoMatchLeavesTheTextAlone) {
  Completer completer;
  std::u32string text = U"zz";
  size_t cursor = 2;
  EXPECT_FALSE(completer.Complete(&text, &cursor, Sources()));
  EXPECT_EQ(text, U"zz");
}

TEST(Completer, KeepsTheTextAfterTheCursor) {
  Completer completer;
  std::u32string text = U"hi bo, welcome";
  size_t cursor = 5;
  ASSERT_TRUE(completer.Complete(&text, &cursor, Sources()));
  EXPECT_EQ(ToUtf8(text), "hi bob, welcome");
  EXPECT_EQ(cursor, 6u);
}

TEST(Completer, CancelPutsBackWhatWasTypedBeforeTab) {
  Completer completer;
  std::u32string text = ToCodePoints("hi al");
  size_t cursor = text.size();
  ASSERT_TRUE(completer.Complete(&text, &cursor, Sources()));
  ASSERT_TRUE(completer.Complete(&text, &cursor, Sources()));
  ASSERT_EQ(ToUtf8(text), "hi alice ");
  EXPECT_TRUE(completer.Cancel(&text, &cursor));
  EXPECT_EQ(ToUtf8(text), "hi al");
  EXPECT_EQ(cursor, 5u);
}

TEST(Completer, CancelAfterAnEditChangesNothing) {
  Completer completer;
  std::u32string text = ToCodePoints("bo");
  size_t cursor = text.size();
  ASSERT_TRUE(completer.Complete(&text, &cursor, Sources()));
  text += U'x';
  ++cursor;
  EXPECT_FALSE(completer.Cancel(&text, &cursor));
  EXPECT_EQ(ToUtf8(text), "bob: x");
}

}  // namespace
}  // namespace muxchat::client
