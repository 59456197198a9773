// The cluster's room registry in Redis (docs/SCALING.md §2): which rooms
// exist, under which IDs and owners. Every node keeps a full copy in its own
// RoomRegistry, loaded with LoadAll and kept current by the events that
// Create and Delete publish on the control channel (ControlChannel), so
// ListRooms and lookups by name never wait for Redis; creating and deleting
// are one atomic script each, so two nodes can never create the same name
// twice or reuse an ID.
//
// Keys (one Redis, not spread over Redis Cluster slots: the registry is
// small and every create must see every name):
//   <prefix>:rooms:names   hash  folded name -> room ID
//   <prefix>:rooms:data    hash  room ID -> record (cluster_room_event.h)
//   <prefix>:rooms:ids     counter of room IDs (never reused)
//   <prefix>:ctl           pub/sub channel of room events
// Single-threaded (the loop's thread); borrows the link, which must outlive it.
#ifndef MUXCHAT_SERVER_CLUSTER_ROOMS_H_
#define MUXCHAT_SERVER_CLUSTER_ROOMS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/server/cluster_message.h"
#include "src/server/cluster_room_event.h"
#include "src/server/redis_link.h"

namespace muxchat::server {

class ClusterRooms {
 public:
  ClusterRooms(RedisLink* link, std::string key_prefix);
  ClusterRooms(const ClusterRooms&) = delete;
  ClusterRooms& operator=(const ClusterRooms&) = delete;

  static std::string ControlChannel(absl::string_view prefix);

  // Creates `room` (its id is ignored: the script numbers it) under
  // `folded_name` unless the name is taken (kAlreadyExists, message naming
  // the existing ID) or `max_rooms` (> 0) rooms exist (kResourceExhausted).
  // The same contract as ClusterPublisher::Publish: not OK = `done` never
  // runs; OK = it runs once, later (kUnavailable if Redis went away first).
  using CreateCallback = absl::AnyInvocable<void(absl::StatusOr<ClusterRoomRecord>)>;
  absl::Status Create(const std::string& folded_name, const ClusterRoomRecord& room, size_t max_rooms,
                      CreateCallback done);
  // Deletes room `id` if `folded_name` still names it, with its counter and
  // stream; true if it was deleted, false if it was already gone.
  using DeleteCallback = absl::AnyInvocable<void(absl::StatusOr<bool>)>;
  absl::Status Delete(uint64_t id, const std::string& folded_name, const std::string& closed_by,
                      DeleteCallback done);
  // Every room's record, and whether the room ID counter exists: a missing
  // counter means Redis lost its data (restarted without persistence).
  struct Registry {
    std::vector<ClusterRoomRecord> rooms;
    bool counter_present = false;
  };
  using LoadCallback = absl::AnyInvocable<void(absl::StatusOr<Registry>)>;
  absl::Status LoadAll(LoadCallback done);
  // Puts back rooms a node still has after Redis lost its data: each whose
  // name is free again is registered under its old ID (with a created
  // event), and the ID counter is raised above every ID given, so IDs are
  // never handed out twice. Fire and forget.
  void Restore(const std::vector<std::pair<std::string, ClusterRoomRecord>>& folded_and_rooms);
  // The newest `limit` messages of a room's stream, oldest first (empty for
  // a room without messages): what a node needs to serve a join when it
  // starts following the room.
  using ReadCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<ClusterMessage>>)>;
  absl::Status Latest(uint64_t room_id, uint32_t limit, ReadCallback done);
  // The newest `limit` messages with seq < before_seq, oldest first.
  absl::Status Before(uint64_t room_id, uint64_t before_seq, uint32_t limit, ReadCallback done);

 private:
  RedisLink* const link_;
  const std::string prefix_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLUSTER_ROOMS_H_
