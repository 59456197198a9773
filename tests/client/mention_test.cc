#include "src/client/mention.h"

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

TEST(MentionsNick, NickAsAWordInAnyCase) {
  EXPECT_TRUE(MentionsNick("bob: lunch?", "bob"));
  EXPECT_TRUE(MentionsNick("hi Bob!", "bob"));
  EXPECT_TRUE(MentionsNick("@BOB", "bob"));
  EXPECT_TRUE(MentionsNick("bob", "bob"));
}

TEST(MentionsNick, PartOfALongerWordIsNoMention) {
  EXPECT_FALSE(MentionsNick("bobby tables", "bob"));
  EXPECT_FALSE(MentionsNick("kebob", "bob"));
  EXPECT_FALSE(MentionsNick("bob_2 here", "bob"));
}

TEST(MentionsNick, EmptyNickNeverMatches) { EXPECT_FALSE(MentionsNick("anything", "")); }

}  // namespace
}  // namespace muxchat::client
