// One chat room: identity, owner, members and the ring of recent messages.
// Owned by the RoomRegistry; members are borrowed Connections, removed by the
// ChatService before a connection is destroyed. Single-threaded.
#ifndef MUXCHAT_SERVER_ROOM_H_
#define MUXCHAT_SERVER_ROOM_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace muxchat::server {

class Connection;

struct HistoryEntry {
  std::string sender;
  std::string text;
  uint64_t seq;
  int64_t timestamp_unix_micros;
};

class Room {
 public:
  Room(uint64_t id, std::string name, std::string owner, absl::Time created, size_t history_capacity)
      : id_(id), name_(std::move(name)), owner_(std::move(owner)), created_(created),
        history_capacity_(history_capacity) {}
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;

  uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  const std::string& owner() const { return owner_; }
  absl::Time created() const { return created_; }
  uint64_t last_seq() const { return last_seq_; }

  bool HasMember(const Connection* c) const { return index_.contains(c); }
  // Returns false if already a member.
  bool AddMember(Connection* c);
  // Returns false if not a member.
  bool RemoveMember(Connection* c);
  const std::vector<Connection*>& members() const { return members_; }
  size_t member_count() const { return members_.size(); }

  // Stamps the next sequence number, remembers the message in the history
  // ring, and returns the stored entry (valid until the next Record).
  const HistoryEntry& Record(std::string sender, std::string text, absl::Time now);
  const std::deque<HistoryEntry>& history() const { return history_; }

 private:
  const uint64_t id_;
  const std::string name_;
  const std::string owner_;
  const absl::Time created_;
  const size_t history_capacity_;
  uint64_t last_seq_ = 0;

  // A dense vector for fan-out iteration plus an index for O(1) removal.
  std::vector<Connection*> members_;
  absl::flat_hash_map<const Connection*, size_t> index_;
  std::deque<HistoryEntry> history_;
  HistoryEntry scratch_;  // returned when history is disabled
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_ROOM_H_
