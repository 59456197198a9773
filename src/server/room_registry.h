// All live rooms, by ID and by case-folded name. Owns the Rooms. IDs come
// from a counter that only grows, so an ID is never reused while the process
// lives. Single-threaded.
#ifndef MUXCHAT_SERVER_ROOM_REGISTRY_H_
#define MUXCHAT_SERVER_ROOM_REGISTRY_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/server/room.h"

namespace muxchat::server {

class RoomRegistry {
 public:
  RoomRegistry(size_t max_rooms, size_t history_capacity)
      : max_rooms_(max_rooms), history_capacity_(history_capacity) {}

  // kAlreadyExists if the (folded) name is taken, kResourceExhausted at
  // max_rooms. The name must already be valid.
  absl::StatusOr<Room*> Create(absl::string_view name, RoomOwner owner, absl::Time now);
  // Puts back a room loaded from storage, with its own ID (kAlreadyExists if
  // the ID or name is in use); later IDs are above it and above `min_next_id`.
  absl::StatusOr<Room*> Restore(uint64_t id, absl::string_view name, RoomOwner owner, absl::Time created,
                                uint64_t last_seq);
  void ReserveIdsThrough(uint64_t id) { next_id_ = std::max(next_id_, id + 1); }
  // The next ID Create will hand out.
  uint64_t next_id() const { return next_id_; }
  Room* FindById(uint64_t id) const;
  Room* FindByName(absl::string_view name) const;
  // Removes and returns the room; its name is free at once, its ID never returns.
  std::unique_ptr<Room> Remove(uint64_t id);

  size_t size() const { return by_id_.size(); }
  std::vector<const Room*> SortedByName() const;

  // Rooms in the order ListRooms promises: by case-folded name (ASCII folding,
  // then byte order), which is unique, so the order is total and stable.
  using ByFoldedName = absl::btree_map<std::string, Room*>;
  const ByFoldedName& by_folded_name() const { return by_name_; }

 private:
  const size_t max_rooms_;
  const size_t history_capacity_;
  uint64_t next_id_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Room>> by_id_;
  ByFoldedName by_name_;  // folded name; ordered, for ListRooms paging
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_ROOM_REGISTRY_H_
