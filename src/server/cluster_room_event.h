// Rooms shared through Redis (docs/SCALING.md §2): how one room's record is
// kept in the registry hash and how a node tells the others that a room was
// created or deleted on the control channel. The create and delete scripts
// (cluster_rooms.cc) write these formats in Lua; Decode* are their only
// readers. Pure functions, any thread.
//
// Record, "r1;" then seven "<decimal length>:<bytes>" fields:
//   id, name, owner_account_id, owner_name, owner_node, owner_conn_id, created (unix micros)
// Control channel payloads:
//   "c" + record                      a room was created
//   "d" + <len>:id + <len>:closed_by  a room was deleted
#ifndef MUXCHAT_SERVER_CLUSTER_ROOM_EVENT_H_
#define MUXCHAT_SERVER_CLUSTER_ROOM_EVENT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace muxchat::server {

struct ClusterRoomRecord {
  uint64_t id = 0;
  std::string name;
  uint64_t owner_account_id = 0;  // 0: a guest created it
  std::string owner_name;         // display only
  // A guest owner is one connection on one node: only that connection,
  // while it lasts, may delete the room (as on a single node).
  std::string owner_node;
  uint64_t owner_conn_id = 0;
  int64_t created_unix_micros = 0;

  bool operator==(const ClusterRoomRecord& o) const {
    return id == o.id && name == o.name && owner_account_id == o.owner_account_id && owner_name == o.owner_name &&
           owner_node == o.owner_node && owner_conn_id == o.owner_conn_id &&
           created_unix_micros == o.created_unix_micros;
  }
};

struct ClusterRoomEvent {
  enum class Kind { kCreated, kDeleted };
  Kind kind = Kind::kCreated;
  ClusterRoomRecord room;  // kDeleted: only room.id
  std::string closed_by;   // kDeleted
};

// The record without its first field (the id), as the create script takes
// it: the script numbers the room and prepends "r1;" and the id.
std::string EncodeRoomRecordTail(const ClusterRoomRecord& r);
std::string EncodeRoomRecord(const ClusterRoomRecord& r);
absl::StatusOr<ClusterRoomRecord> DecodeRoomRecord(absl::string_view payload);

std::string EncodeRoomEvent(const ClusterRoomEvent& e);
absl::StatusOr<ClusterRoomEvent> DecodeRoomEvent(absl::string_view payload);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_ROOM_EVENT_H_
