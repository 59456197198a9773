#include "src/client/room_table.h"

#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1795594147);

v1::RoomInfo Room(const std::string& name, uint32_t members, const std::string& owner, uint64_t messages,
                  absl::Duration age) {
  v1::RoomInfo r;
  r.set_room_id(1);
  r.set_name(name);
  r.set_member_count(members);
  r.set_owner(owner);
  r.set_message_count(messages);
  r.set_created_unix_micros(absl::ToUnixMicros(kNow - age));
  return r;
}

TEST(RoomTable, AgeIsCompact) {
  EXPECT_EQ(FormatAge(absl::Seconds(0)), "0s");
  EXPECT_EQ(FormatAge(absl::Seconds(59)), "59s");
  EXPECT_EQ(FormatAge(absl::Seconds(61)), "1m");
  EXPECT_EQ(FormatAge(absl::Hours(3) + absl::Minutes(59)), "3h");
  EXPECT_EQ(FormatAge(absl::Hours(49)), "2d");
  EXPECT_EQ(FormatAge(absl::Seconds(-5)), "0s");
}

TEST(RoomTable, EmptyListSaysSo) {
  google::protobuf::RepeatedPtrField<v1::RoomInfo> rooms;
  EXPECT_EQ(FormatRoomTable(rooms, kNow), "(no rooms)\n");
}

TEST(RoomTable, ColumnsAreAligned) {
  google::protobuf::RepeatedPtrField<v1::RoomInfo> rooms;
  *rooms.Add() = Room("a", 1, "alice", 5, absl::Seconds(30));
  *rooms.Add() = Room("a-much-longer-name", 12345, "bo", 0, absl::Hours(2));
  EXPECT_EQ(FormatRoomTable(rooms, kNow),
            "ROOM                MEMBERS  OWNER  MESSAGES  AGE\n"
            "a                         1  alice         5  30s\n"
            "a-much-longer-name    12345  bo            0   2h\n");
}

TEST(RoomTable, Utf8NamesCountAsOneColumnPerCodePoint) {
  google::protobuf::RepeatedPtrField<v1::RoomInfo> rooms;
  *rooms.Add() = Room("caf\xc3\xa9", 1, "z", 1, absl::Seconds(1));
  *rooms.Add() = Room("abcd", 1, "z", 1, absl::Seconds(1));
  const std::vector<std::string> lines = absl::StrSplit(FormatRoomTable(rooms, kNow), '\n');
  ASSERT_GE(lines.size(), 3u);
  // "MEMBERS" starts at the same column in every row: after 4 name columns + 2 spaces.
  EXPECT_EQ(lines[1].substr(0, 7), "caf\xc3\xa9  ");
  EXPECT_EQ(lines[2].substr(0, 6), "abcd  ");
}

TEST(RoomTable, WideCharactersCountTwoColumnsSoColumnsStayAligned) {
  google::protobuf::RepeatedPtrField<v1::RoomInfo> rooms;
  *rooms.Add() = Room("\xe4\xbc\x9a\xe8\xad\xb0", 1, "z", 1, absl::Seconds(1));  // 会議: 4 columns
  *rooms.Add() = Room("\xf0\x9f\x8e\x89x", 1, "z", 1, absl::Seconds(1));           // 🎉x: 3 columns
  *rooms.Add() = Room("abcd", 1, "z", 1, absl::Seconds(1));
  const std::vector<std::string> lines = absl::StrSplit(FormatRoomTable(rooms, kNow), '\n');
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[1], "\xe4\xbc\x9a\xe8\xad\xb0        1  z             1   1s");
  EXPECT_EQ(lines[2], "\xf0\x9f\x8e\x89x         1  z             1   1s");
  EXPECT_EQ(lines[3], "abcd        1  z             1   1s");
}

TEST(RoomTable, RoomJson) {
  EXPECT_EQ(FormatRoomJson(Room("r\"1", 2, "al", 3, absl::ZeroDuration())),
            "{\"room\":\"r\\\"1\",\"room_id\":1,\"members\":2,\"owner\":\"al\",\"messages\":3,"
            "\"created\":\"2026-11-25T08:09:07.000000Z\"}");
}

}  // namespace
}  // namespace muxchat::client
