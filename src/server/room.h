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
  uint64_t client_msg_id = 0;  // the sender's id for the message, 0 = none
};

// Who may delete a room: an account for good, or a guest's connection while
// it lasts. Never a nickname string, which anyone may take once it is free.
struct RoomOwner {
  uint64_t account_id = 0;     // non-zero: this account owns the room
  uint64_t guest_conn_id = 0;  // non-zero: created by this guest connection
  std::string name;            // display only (RoomInfo.owner)
};

class Room {
 public:
  Room(uint64_t id, std::string name, RoomOwner owner, absl::Time created, size_t history_capacity)
      : id_(id), name_(std::move(name)), owner_(std::move(owner)), created_(created),
        history_capacity_(history_capacity) {}
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;

  uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  const std::string& owner() const { return owner_.name; }
  const RoomOwner& owner_identity() const { return owner_; }
  absl::Time created() const { return created_; }
  // The newest message members have been sent (committed, when durable).
  uint64_t last_seq() const { return last_seq_; }

  bool HasMember(const Connection* c) const { return index_.contains(c); }
  // Returns false if already a member.
  bool AddMember(Connection* c);
  // Returns false if not a member.
  bool RemoveMember(Connection* c);
  const std::vector<Connection*>& members() const { return members_; }
  size_t member_count() const { return members_.size(); }
  // Members on WebSocket (Connection::websocket()): while there are any, a
  // broadcast is also framed once as a WebSocket message for them.
  size_t websocket_member_count() const { return websocket_members_; }

  // Stamps the next sequence number, remembers the message in the history
  // ring, and returns the stored entry (valid until the next Record).
  const HistoryEntry& Record(std::string sender, std::string text, absl::Time now, uint64_t client_msg_id = 0);
  const std::deque<HistoryEntry>& history() const { return history_; }

  // Durable rooms number a message when it is accepted but record it only
  // once storage has committed it: AssignSeq hands out the next number,
  // Commit records an entry carrying it (in order), and RollBack forgets
  // every number handed out past last_seq() after a failed commit, so no
  // seq is skipped or reused.
  uint64_t AssignSeq() { return ++assigned_seq_; }
  const HistoryEntry& Commit(HistoryEntry entry);
  void RollBack() { assigned_seq_ = last_seq_; }
  // Sets the numbering and history of a room loaded from storage.
  void Restore(uint64_t last_seq) { last_seq_ = assigned_seq_ = last_seq; }
  // Forgets the history ring and numbers from `last_seq` on: a cluster node
  // that stops following a room has a stale ring, refilled from Redis when
  // it follows the room again.
  void ResetHistory(uint64_t last_seq) {
    history_.clear();
    Restore(last_seq);
  }

 private:
  const uint64_t id_;
  const std::string name_;
  const RoomOwner owner_;
  const absl::Time created_;
  const size_t history_capacity_;
  uint64_t last_seq_ = 0;
  uint64_t assigned_seq_ = 0;

  // A dense vector for fan-out iteration plus an index for O(1) removal.
  std::vector<Connection*> members_;
  absl::flat_hash_map<const Connection*, size_t> index_;
  size_t websocket_members_ = 0;
  std::deque<HistoryEntry> history_;
  HistoryEntry scratch_;  // returned when history is disabled
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_ROOM_H_
