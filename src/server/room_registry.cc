#include "src/server/room_registry.h"

#include "absl/strings/str_cat.h"
#include "src/server/name_rules.h"

namespace muxchat::server {

absl::StatusOr<Room*> RoomRegistry::Create(absl::string_view name, RoomOwner owner, absl::Time now) {
  std::string folded = FoldName(name);
  if (by_name_.contains(folded)) return absl::AlreadyExistsError(absl::StrCat("room '", name, "' already exists"));
  if (by_id_.size() >= max_rooms_) {
    return absl::ResourceExhaustedError(absl::StrCat("the server has reached its limit of ", max_rooms_, " rooms"));
  }
  const uint64_t id = next_id_++;
  auto room = std::make_unique<Room>(id, std::string(name), std::move(owner), now, history_capacity_);
  Room* raw = room.get();
  by_id_.emplace(id, std::move(room));
  by_name_.emplace(std::move(folded), raw);
  return raw;
}

absl::StatusOr<Room*> RoomRegistry::Restore(uint64_t id, absl::string_view name, RoomOwner owner, absl::Time created,
                                            uint64_t last_seq) {
  std::string folded = FoldName(name);
  if (id == 0 || by_id_.contains(id) || by_name_.contains(folded)) {
    return absl::AlreadyExistsError(absl::StrCat("stored room ", id, " '", name, "' clashes with another"));
  }
  ReserveIdsThrough(id);
  auto room = std::make_unique<Room>(id, std::string(name), std::move(owner), created, history_capacity_);
  room->Restore(last_seq);
  Room* raw = room.get();
  by_id_.emplace(id, std::move(room));
  by_name_.emplace(std::move(folded), raw);
  return raw;
}

Room* RoomRegistry::FindById(uint64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

Room* RoomRegistry::FindByName(absl::string_view name) const {
  auto it = by_name_.find(FoldName(name));
  return it == by_name_.end() ? nullptr : it->second;
}

std::unique_ptr<Room> RoomRegistry::Remove(uint64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return nullptr;
  std::unique_ptr<Room> room = std::move(it->second);
  by_id_.erase(it);
  by_name_.erase(FoldName(room->name()));
  return room;
}

std::vector<const Room*> RoomRegistry::SortedByName() const {
  std::vector<const Room*> out;
  out.reserve(by_name_.size());
  for (const auto& [folded, room] : by_name_) out.push_back(room);
  return out;
}

}  // namespace muxchat::server
