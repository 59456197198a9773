#include "src/server/retention_pruner.h"

#include <algorithm>
#include <utility>

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
      {&oldest_seq_, "SELECT min(seq) FROM messages WHERE room_id = ?1"},
      {&delete_range_, "DELETE FROM messages WHERE room_id = ?1 AND seq >= ?2 AND seq < ?3"},
      {&delete_old_in_range_, "DELETE FROM messages WHERE room_id = ?1 AND seq >= ?2 AND seq < ?3 AND ts < ?4"},
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
  oldest_seq_.BindUint(1, room.room_id);
  absl::StatusOr<bool> row = oldest_seq_.Step();
  if (!row.ok()) return row.status();
  const bool empty = !*row || oldest_seq_.ColumnIsNull(0);
  const int64_t oldest = empty ? 0 : oldest_seq_.ColumnInt(0);
  oldest_seq_.Reset();
  if (empty) return 0;

  // seqs are unique, so [oldest, oldest + budget) holds at most `budget` rows.
  const int64_t end = oldest + budget;
  // Keeping seqs above last_seq - retention_messages keeps at most that many.
  const int64_t keep_from = static_cast<int64_t>(room.last_seq) - static_cast<int64_t>(retention_messages_) + 1;
  SqliteStatement* del = nullptr;
  if (retention_messages_ > 0 && oldest < keep_from) {
    del = &delete_range_;
    del->BindInt(3, std::min(end, keep_from));
  } else if (age_cutoff_micros_ != 0) {
    // Stops at the first message (by seq) young enough to keep.
    del = &delete_old_in_range_;
    del->BindInt(3, end);
    del->BindInt(4, age_cutoff_micros_);
  } else {
    return 0;
  }
  del->BindUint(1, room.room_id);
  del->BindInt(2, oldest);
  if (absl::Status s = del->Run(); !s.ok()) return s;
  return sqlite3_changes(db_->get());
}

}  // namespace muxchat::server
