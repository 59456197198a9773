#include "src/server/room.h"

#include "src/server/connection.h"

namespace muxchat::server {

bool Room::AddMember(Connection* c) {
  if (!index_.emplace(c, members_.size()).second) return false;
  members_.push_back(c);
  if (c->websocket()) ++websocket_members_;
  return true;
}

bool Room::RemoveMember(Connection* c) {
  auto it = index_.find(c);
  if (it == index_.end()) return false;
  const size_t pos = it->second;
  index_.erase(it);
  if (c->websocket()) --websocket_members_;
  if (pos != members_.size() - 1) {
    members_[pos] = members_.back();
    index_[members_[pos]] = pos;
  }
  members_.pop_back();
  return true;
}

const HistoryEntry& Room::Record(std::string sender, std::string text, absl::Time now, uint64_t client_msg_id) {
  assigned_seq_ = last_seq_ + 1;
  return Commit(HistoryEntry{std::move(sender), std::move(text), last_seq_ + 1, absl::ToUnixMicros(now), client_msg_id});
}

const HistoryEntry& Room::Commit(HistoryEntry entry) {
  last_seq_ = entry.seq;
  if (history_capacity_ == 0) {
    scratch_ = std::move(entry);
    return scratch_;
  }
  if (history_.size() == history_capacity_) history_.pop_front();
  history_.push_back(std::move(entry));
  return history_.back();
}

}  // namespace muxchat::server
