#include "src/server/account_registry.h"

#include <algorithm>

#include "src/server/name_rules.h"

namespace muxchat::server {

Account* AccountRegistry::Add(uint64_t id, std::string name, std::string password_hash, absl::Time created) {
  std::string folded = FoldName(name);
  if (id == 0 || by_id_.contains(id) || by_folded_name_.contains(folded)) return nullptr;
  next_id_ = std::max(next_id_, id + 1);
  Account& a = by_id_[id];
  a.id = id;
  a.name = std::move(name);
  a.password_hash = std::move(password_hash);
  a.created = created;
  by_folded_name_.emplace(std::move(folded), id);
  return &a;
}

Account* AccountRegistry::FindByName(absl::string_view name) {
  auto it = by_folded_name_.find(FoldName(name));
  return it == by_folded_name_.end() ? nullptr : FindById(it->second);
}

Account* AccountRegistry::FindById(uint64_t id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

const Account* AccountRegistry::FindById(uint64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

void AccountRegistry::Remove(uint64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  by_folded_name_.erase(FoldName(it->second.name));
  by_id_.erase(it);
}

Account* AccountRegistry::FindSession(const std::string& token_hash, absl::Time now) {
  auto it = sessions_.find(token_hash);
  if (it == sessions_.end()) return nullptr;
  if (it->second.expires <= now) {
    sessions_.erase(it);
    return nullptr;
  }
  return FindById(it->second.account_id);
}

void AccountRegistry::ForgetRoom(uint64_t room_id) {
  for (auto& [id, account] : by_id_) account.rooms.erase(room_id);
}

}  // namespace muxchat::server
