#include "src/server/room_registry.h"

#include <vector>

#include "gtest/gtest.h"
#include "src/server/connection.h"

namespace muxchat::server {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

TEST(RoomRegistry, NamesAreUniqueCaseInsensitively) {
  RoomRegistry reg(10, 5);
  ASSERT_TRUE(reg.Create("General", RoomOwner{0, 0, "alice"}, kNow).ok());
  EXPECT_EQ(reg.Create("general", RoomOwner{0, 0, "bob"}, kNow).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(reg.FindByName("GENERAL"), nullptr);
}

TEST(RoomRegistry, IdsAreNeverReused) {
  RoomRegistry reg(10, 5);
  uint64_t first = (*reg.Create("a", RoomOwner{0, 0, "o"}, kNow))->id();
  reg.Remove(first);
  EXPECT_EQ(reg.FindById(first), nullptr);
  uint64_t second = (*reg.Create("a", RoomOwner{0, 0, "o"}, kNow))->id();
  EXPECT_NE(first, second);
  EXPECT_GT(second, first);
}

TEST(RoomRegistry, RemoveFreesTheName) {
  RoomRegistry reg(10, 5);
  uint64_t id = (*reg.Create("lobby", RoomOwner{0, 0, "o"}, kNow))->id();
  EXPECT_NE(reg.Remove(id), nullptr);
  EXPECT_EQ(reg.FindByName("lobby"), nullptr);
  EXPECT_TRUE(reg.Create("lobby", RoomOwner{0, 0, "o"}, kNow).ok());
}

TEST(RoomRegistry, RefusesRoomsPastTheLimit) {
  RoomRegistry reg(2, 5);
  ASSERT_TRUE(reg.Create("a", RoomOwner{0, 0, "o"}, kNow).ok());
  ASSERT_TRUE(reg.Create("b", RoomOwner{0, 0, "o"}, kNow).ok());
  EXPECT_EQ(reg.Create("c", RoomOwner{0, 0, "o"}, kNow).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(RoomRegistry, ListsSortedByName) {
  RoomRegistry reg(10, 5);
  reg.Create("zeta", RoomOwner{0, 0, "o"}, kNow).IgnoreError();
  reg.Create("Alpha", RoomOwner{0, 0, "o"}, kNow).IgnoreError();
  reg.Create("mid", RoomOwner{0, 0, "o"}, kNow).IgnoreError();
  auto sorted = reg.SortedByName();
  ASSERT_EQ(sorted.size(), 3u);
  EXPECT_EQ(sorted[0]->name(), "Alpha");
  EXPECT_EQ(sorted[2]->name(), "zeta");
}

TEST(Room, HistoryRingKeepsTheNewestWithGaplessSeqs) {
  Room room(1, "r", RoomOwner{0, 0, "o"}, kNow, 3);
  for (int i = 1; i <= 5; ++i) room.Record("s", std::to_string(i), kNow);
  ASSERT_EQ(room.history().size(), 3u);
  EXPECT_EQ(room.history().front().seq, 3u);
  EXPECT_EQ(room.history().back().seq, 5u);
  EXPECT_EQ(room.history().back().text, "5");
  EXPECT_EQ(room.last_seq(), 5u);
}

TEST(Room, ZeroHistoryStillStampsSeqs) {
  Room room(1, "r", RoomOwner{0, 0, "o"}, kNow, 0);
  EXPECT_EQ(room.Record("s", "a", kNow).seq, 1u);
  EXPECT_EQ(room.Record("s", "b", kNow).seq, 2u);
  EXPECT_TRUE(room.history().empty());
}

TEST(Room, MembershipAddRemove) {
  Room room(1, "r", RoomOwner{0, 0, "o"}, kNow, 3);
  std::vector<Connection*> dirty;
  Connection conn_a(1, -1, "a", kNow, 1 << 20, &dirty);
  Connection conn_b(2, -1, "b", kNow, 1 << 20, &dirty);
  auto* a = &conn_a;
  auto* b = &conn_b;
  EXPECT_TRUE(room.AddMember(a));
  EXPECT_FALSE(room.AddMember(a));
  EXPECT_TRUE(room.AddMember(b));
  EXPECT_TRUE(room.RemoveMember(a));
  EXPECT_FALSE(room.RemoveMember(a));
  EXPECT_FALSE(room.HasMember(a));
  EXPECT_TRUE(room.HasMember(b));
  EXPECT_EQ(room.member_count(), 1u);
}

TEST(Room, CountsWebSocketMembersAsTheyComeAndGo) {
  Room room(1, "r", RoomOwner{0, 0, "o"}, kNow, 3);
  std::vector<Connection*> dirty;
  Connection tcp(1, -1, "t", kNow, 1 << 20, &dirty);
  Connection ws(2, -1, "w", kNow, 1 << 20, &dirty);
  ws.set_websocket();
  EXPECT_TRUE(room.AddMember(&tcp));
  EXPECT_EQ(room.websocket_member_count(), 0u);
  EXPECT_TRUE(room.AddMember(&ws));
  EXPECT_FALSE(room.AddMember(&ws));
  EXPECT_EQ(room.websocket_member_count(), 1u);
  EXPECT_TRUE(room.RemoveMember(&ws));
  EXPECT_FALSE(room.RemoveMember(&ws));
  EXPECT_EQ(room.websocket_member_count(), 0u);
  EXPECT_EQ(room.member_count(), 1u);
}

}  // namespace
}  // namespace muxchat::server
