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

TEST(RoomMembers, TheServersListReplacesNamesAndCount) {
  RoomMembers m;
  m.SetCount(9);
  m.Add("gone");
  m.Replace({"bob", "Alice", "carol"});
  EXPECT_EQ(m.count(), 3u);
  EXPECT_EQ(m.Known(), (std::vector<std::string>{"Alice", "bob", "carol"}));
}

TEST(RoomMembers, PresenceEventsKeepTheServersListCurrent) {
  RoomMembers m;
  m.Replace({"alice", "bob"});
  m.Add("dave");
  m.SetCount(3);
  m.Remove("alice");
  m.SetCount(2);
  EXPECT_EQ(m.Describe("lobby"), "names in lobby (2): bob, dave");
}

TEST(RoomMembers, DescribeListsEveryNameWithTheCount) {
  RoomMembers m;
  m.Replace({"alice", "bob", "carol"});
  EXPECT_EQ(m.Describe("lobby"), "names in lobby (3): alice, bob, carol");
}

TEST(RoomMembers, DescribeCountsMembersItCannotName) {
  RoomMembers m;
  m.SetCount(4);
  m.Add("alice");
  m.Add("bob");
  EXPECT_EQ(m.Describe("lobby"),
            "names in lobby (4): alice, bob, and 2 more unnamed (this server does not list members)");
  RoomMembers none;
  none.SetCount(2);
  EXPECT_EQ(none.Describe("lobby"), "names in lobby (2): 2 unnamed (this server does not list members)");
}

}  // namespace
}  // namespace muxchat::client
