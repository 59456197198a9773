#include "src/client/room_table.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/client/display_width.h"
#include "src/client/message_format.h"

namespace muxchat::client {
namespace {

constexpr size_t kColumns = 5;
using Row = std::array<std::string, kColumns>;

}  // namespace

std::string FormatAge(absl::Duration age) {
  const int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(age));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m");
  if (s < 86400) return absl::StrCat(s / 3600, "h");
  return absl::StrCat(s / 86400, "d");
}

std::string FormatRoomTable(const google::protobuf::RepeatedPtrField<v1::RoomInfo>& rooms, absl::Time now) {
  if (rooms.empty()) return "(no rooms)\n";
  std::vector<Row> rows;
  rows.push_back({"ROOM", "MEMBERS", "OWNER", "MESSAGES", "AGE"});
  for (const v1::RoomInfo& r : rooms) {
    rows.push_back({SanitizeForTerminal(r.name()), absl::StrCat(r.member_count()), SanitizeForTerminal(r.owner()),
                    absl::StrCat(r.message_count()),
                    FormatAge(now - absl::FromUnixMicros(r.created_unix_micros()))});
  }
  std::array<size_t, kColumns> width{};
  for (const Row& row : rows) {
    for (size_t c = 0; c < kColumns; ++c) width[c] = std::max(width[c], DisplayWidth(row[c]));
  }
  // Numbers right-aligned, text left-aligned; two spaces between columns.
  constexpr std::array<bool, kColumns> kRight = {false, true, false, true, true};
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (size_t c = 0; c < kColumns; ++c) {
      const std::string pad(width[c] - DisplayWidth(row[c]), ' ');
      if (c > 0) line += "  ";
      line += kRight[c] ? pad + row[c] : row[c] + (c + 1 < kColumns ? pad : "");
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string FormatRoomJson(const v1::RoomInfo& room) {
  return absl::StrCat("{\"room\":", JsonString(room.name()), ",\"room_id\":", room.room_id(),
                      ",\"members\":", room.member_count(), ",\"owner\":", JsonString(room.owner()),
                      ",\"messages\":", room.message_count(),
                      ",\"created\":", JsonString(FormatUtcTime(room.created_unix_micros())), "}");
}

}  // namespace muxchat::client
