// The LIST table: one row per room with name, members, owner, messages and
// age, columns padded to the widest cell (display width counted in UTF-8 code
// points). Also the JSON form for `--list --json`. Pure functions.
#ifndef MUXCHAT_CLIENT_ROOM_TABLE_H_
#define MUXCHAT_CLIENT_ROOM_TABLE_H_

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/repeated_field.h"
#include "proto/muxchat.pb.h"

namespace muxchat::client {

// Compact age: "45s", "12m", "3h", "2d" (negative ages clamp to "0s").
std::string FormatAge(absl::Duration age);

// Header plus one line per room, each line ending in '\n'; "(no rooms)\n" if empty.
std::string FormatRoomTable(const google::protobuf::RepeatedPtrField<v1::RoomInfo>& rooms, absl::Time now);

// {"room":"R","room_id":N,"members":N,"owner":"O","messages":N,"created":"...Z"} — one object, no newline.
std::string FormatRoomJson(const v1::RoomInfo& room);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_ROOM_TABLE_H_
