#include "src/server/retention_pruner.h"

#include <algorithm>
#include <utility>

#include "src/server/message_block.h"

namespace muxchat::server {

absl::StatusOr<std::unique_ptr<RetentionPruner>> RetentionPruner::Create(SqliteConnection* db,
                                                                         uint64_t retention_messages,
                                                                         absl::Duration retention_age) {
  std::unique_ptr<RetentionPruner> pruner(new RetentionPruner(db, retention_messages, retention_age));
  if (absl::Status s = pruner->Prepare(); !s.ok()) return s;
  return pruner;
}

absl::Status RetentionPruner::Prepare() {
  struct {
    SqliteStatement* stmt;
    const char* sql;
  } const statements[] = {
      {&delete_expired_sessions_, "DELETE FROM sessions WHERE expires <= ?1"},
      {&list_rooms_, "SELECT id, last_seq FROM rooms ORDER BY id"},
      {&oldest_block_,
       "SELECT id, first_seq, last_seq, body FROM message_blocks WHERE room_id = ?1 ORDER BY last_seq LIMIT 1"},
      {&delete_block_, "DELETE FROM message_blocks WHERE id = ?1"},
      {&rewrite_block_, "UPDATE message_blocks SET first_seq = ?2, body = ?3 WHERE id = ?1"},
  };
  for (const auto& s : statements) {
    absl::StatusOr<SqliteStatement> stmt = db_->Prepare(s.sql);
    if (!stmt.ok()) return stmt.status();
    *s.stmt = *std::move(stmt);
  }
  return absl::OkStatus();
}

absl::Status RetentionPruner::BeginPass(absl::Time now) {
  in_pass_ = false;
  rooms_.clear();
  next_room_ = 0;
  age_cutoff_micros_ = retention_age_ > absl::ZeroDuration() ? absl::ToUnixMicros(now - retention_age_) : 0;
  delete_expired_sessions_.BindInt(1, absl::ToUnixMicros(now));
  if (absl::Status s = delete_expired_sessions_.Run(); !s.ok()) return s;
  if (retention_messages_ == 0 && age_cutoff_micros_ == 0) return absl::OkStatus();
  for (;;) {
    absl::StatusOr<bool> row = list_rooms_.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    rooms_.push_back({list_rooms_.ColumnUint(0), list_rooms_.ColumnUint(1)});
  }
  list_rooms_.Reset();
  in_pass_ = !rooms_.empty();
  return absl::OkStatus();
}

absl::StatusOr<bool> RetentionPruner::Step() {
  if (!in_pass_) return false;
  if (absl::Status s = db_->Exec("BEGIN IMMEDIATE"); !s.ok()) {
    in_pass_ = false;
    return s;
  }
  int64_t budget = kRowsPerStep;
  absl::Status status;
  for (size_t visited = 0; budget > 0 && visited < kRoomsPerStep && next_room_ < rooms_.size();) {
    absl::StatusOr<int64_t> deleted = PruneCurrentRoom(budget);
    if (!deleted.ok() && absl::IsDataLoss(deleted.status())) {
      // A block that does not decode (a damaged file): that room is left as
      // it is and the pass goes on with the others, instead of ending at the
      // same block on every pass. Its reads report the damage.
      ++next_room_;
      ++visited;
      continue;
    }
    if (!deleted.ok()) {
      status = deleted.status();
      break;
    }
    if (*deleted == 0) {
      ++next_room_;
      ++visited;
    }
    budget -= *deleted;
  }
  if (status.ok()) status = db_->Exec("COMMIT");
  if (!status.ok()) {
    db_->RollbackQuietly();
    in_pass_ = false;
    return status;
  }
  messages_pruned_ += kRowsPerStep - budget;
  in_pass_ = next_room_ < rooms_.size();
  return in_pass_;
}

absl::StatusOr<int64_t> RetentionPruner::PruneCurrentRoom(int64_t budget) {
  const RoomCursor& room = rooms_[next_room_];
  // Keeping seqs from last_seq - retention_messages + 1 on keeps at most that many.
  const uint64_t keep_from =
      retention_messages_ > 0 && room.last_seq >= retention_messages_ ? room.last_seq - retention_messages_ + 1 : 0;
  int64_t deleted = 0;
  while (deleted < budget) {
    oldest_block_.BindUint(1, room.room_id);
    absl::StatusOr<bool> row = oldest_block_.Step();
    if (!row.ok()) return row.status();
    if (!*row) {
      // Reset for the next room: a statement stepped to its end keeps its
      // bindings, and a bind before a reset is refused, so the next room's
      // query ran with this room's id and the room was skipped.
      oldest_block_.Reset();
      break;
    }
    const int64_t block_id = oldest_block_.ColumnInt(0);
    decoded_.clear();
    absl::Status decoded = DecodeStoredBlock(room.room_id, oldest_block_.ColumnUint(1), oldest_block_.ColumnUint(2),
                                             oldest_block_.ColumnBytes(3), &decoded_);
    oldest_block_.Reset();
    if (!decoded.ok()) return decoded;
    size_t drop = 0;
    while (drop < decoded_.size() && (decoded_[drop].seq < keep_from ||
                                      (age_cutoff_micros_ != 0 && decoded_[drop].timestamp_unix_micros <
                                                                      age_cutoff_micros_))) {
      ++drop;
    }
    if (drop == 0) break;
    deleted += static_cast<int64_t>(drop);
    if (drop == decoded_.size()) {
      delete_block_.BindInt(1, block_id);
      if (absl::Status s = delete_block_.Run(); !s.ok()) return s;
      continue;
    }
    // The messages to keep begin inside this block: keep its tail, and the
    // room is done.
    MessageBlockBuilder rest;
    for (size_t i = drop; i < decoded_.size(); ++i) rest.Append(decoded_[i]);
    rewrite_block_.BindInt(1, block_id);
    rewrite_block_.BindUint(2, rest.first_seq());
    rewrite_block_.BindBlob(3, rest.body());
    if (absl::Status s = rewrite_block_.Run(); !s.ok()) return s;
    break;
  }
  return deleted;
}

}  // namespace muxchat::server
