// Background pruning of history (StorageOptions retention_messages and
// retention_age) and of expired sessions, in small transactions so that it
// never holds the write lock long: the writer thread runs one Step between
// groups of batches. Used only on the writer thread; borrows the connection,
// which must outlive it.
#ifndef MUXCHAT_SERVER_RETENTION_PRUNER_H_
#define MUXCHAT_SERVER_RETENTION_PRUNER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/server/sqlite_connection.h"
#include "src/server/sqlite_statement.h"
#include "src/server/storage.h"

namespace muxchat::server {

class RetentionPruner {
 public:
  // About this many messages are deleted per Step (one transaction); a
  // Step on an idle laptop disk takes about a millisecond per thousand rows.
  // Messages go a whole stored block at a time (src/server/message_block.h),
  // so a Step may exceed it by one block.
  static constexpr int64_t kRowsPerStep = 1000;
  // At most this many rooms are visited per Step, so a pass over many rooms
  // with nothing to prune does not hold the lock for long either.
  static constexpr size_t kRoomsPerStep = 256;

  // `retention_messages` per room (0 = keep all) and `retention_age` (zero = keep all).
  static absl::StatusOr<std::unique_ptr<RetentionPruner>> Create(SqliteConnection* db, uint64_t retention_messages,
                                                                 absl::Duration retention_age);
  RetentionPruner(const RetentionPruner&) = delete;
  RetentionPruner& operator=(const RetentionPruner&) = delete;

  // True between BeginPass and the Step that returns false.
  bool in_pass() const { return in_pass_; }
  // Starts a pass as of `now`: deletes expired sessions and lists the rooms
  // (with their last_seq) to visit.
  absl::Status BeginPass(absl::Time now);
  // Prunes one chunk in one transaction. Returns whether the pass has more
  // to do; on an error the pass ends (the next one starts over). A room with
  // a block that does not decode is skipped, not an error (its reads say so).
  absl::StatusOr<bool> Step();

  uint64_t messages_pruned() const { return messages_pruned_; }

 private:
  struct RoomCursor {
    uint64_t room_id;
    uint64_t last_seq;
  };
  RetentionPruner(SqliteConnection* db, uint64_t retention_messages, absl::Duration retention_age)
      : db_(db), retention_messages_(retention_messages), retention_age_(retention_age) {}
  absl::Status Prepare();
  // Deletes about `budget` messages of the current room from its oldest
  // block on: whole blocks, and the leading records of the block where the
  // messages to keep begin (rewritten). A message goes when it is beyond
  // retention_messages or older than retention_age and every message before
  // it went too: pruning only ever shortens history from its start. Returns
  // the number deleted; 0 when the room is done.
  absl::StatusOr<int64_t> PruneCurrentRoom(int64_t budget);

  SqliteConnection* db_;
  const uint64_t retention_messages_;
  const absl::Duration retention_age_;
  bool in_pass_ = false;
  int64_t age_cutoff_micros_ = 0;  // messages with ts below this go; 0 = no age limit
  std::vector<RoomCursor> rooms_;
  size_t next_room_ = 0;
  uint64_t messages_pruned_ = 0;

  SqliteStatement delete_expired_sessions_;
  SqliteStatement list_rooms_;
  SqliteStatement oldest_block_;
  SqliteStatement delete_block_;
  SqliteStatement rewrite_block_;
  std::vector<MessageRecord> decoded_;  // one block's records, reused
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_RETENTION_PRUNER_H_
