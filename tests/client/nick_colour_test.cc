#include "src/client/nick_colour.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

TEST(NickColour, SameNickInAnyCaseGetsTheSameColour) { EXPECT_EQ(NickColour("Alice"), NickColour("alice")); }

TEST(NickColour, StaysInThePalette) {
  for (const char* nick : {"", "a", "bob", "carol", "dave", "a-very-long-nickname-indeed"}) {
    EXPECT_GE(NickColour(nick), 0);
    EXPECT_LT(NickColour(nick), kNickColours);
  }
}

TEST(NickColour, SpreadsNicksOverThePalette) {
  std::set<int> used;
  for (int i = 0; i < 100; ++i) used.insert(NickColour("user" + std::to_string(i)));
  EXPECT_GE(used.size(), 8u);
}

}  // namespace
}  // namespace muxchat::client
