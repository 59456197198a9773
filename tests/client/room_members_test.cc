#include "src/client/room_members.h"

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

TEST(RoomMembers, NamesFollowJoinsAndLeavesIgnoringCase) {
  RoomMembers m;
  m.Add("bob");
  m.Add("Alice");
  m.Add("carol");
  m.Remove("CAROL");
  EXPECT_EQ(m.Known(), (std::vector<std::string>{"Alice", "bob"}));
}

TEST(RoomMembers, AddingAKnownNickAgainKeepsOneEntry) {
  RoomMembers m;
  m.Add("bob");
  m.Add("BOB");
  EXPECT_EQ(m.Known(), (std::vector<std::string>{"bob"}));
}

TEST(RoomMembers, DescribeListsKnownNamesWhenAllAreKnown) {
  RoomMembers m;
  m.SetCount(2);
  m.Add("alice");
  m.Add("bob");
  EXPECT_EQ(m.Describe("lobby"), "lobby: 2 members: alice bob");
}

TEST(RoomMembers, DescribeCountsMembersItCannotName) {
  RoomMembers m;
  m.SetCount(4);
  m.Add("alice");
  m.Add("bob");
  EXPECT_EQ(m.Describe("lobby"),
            "lobby: 4 members: alice bob, and 2 more who joined before you and have not spoken since "
            "(the server sends counts, not names)");
  m.SetCount(3);
  EXPECT_NE(m.Describe("lobby").find("1 more who joined before you and has not"), std::string::npos);
}

}  // namespace
}  // namespace muxchat::client
