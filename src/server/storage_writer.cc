#include "src/server/storage_writer.h"

#include <unistd.h>

#include <algorithm>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/server/name_rules.h"

namespace muxchat::server {
namespace {

// Errors after which the transaction cannot go on (SQLite may even have
// rolled it back already): every batch of the group fails.
bool FailsWholeGroup(const absl::Status& status) {
  return absl::IsResourceExhausted(status) || absl::IsUnavailable(status) || absl::IsDataLoss(status);
}

// A room's block is written once it holds this many messages, even within a
// batch, so that one history read or pruning step never decodes more than
// this per block. Above the usual group commit (64: the clients' window).
constexpr uint64_t kMaxBlockMessages = 256;

}  // namespace

absl::StatusOr<std::unique_ptr<StorageWriter>> StorageWriter::Create(SqliteConnection* db, std::string fault_file) {
  std::unique_ptr<StorageWriter> writer(new StorageWriter(db, std::move(fault_file)));
  if (absl::Status s = writer->Prepare(); !s.ok()) return s;
  return writer;
}

absl::Status StorageWriter::Prepare() {
  struct {
    SqliteStatement* stmt;
    const char* sql;
  } const statements[] = {
      {&insert_account_,
       "INSERT INTO accounts (id, name, folded_name, password_hash, created) VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&insert_session_, "INSERT OR REPLACE INTO sessions (token_hash, account_id, expires) VALUES (?1, ?2, ?3)"},
      {&delete_session_, "DELETE FROM sessions WHERE token_hash = ?1"},
      {&insert_room_,
       "INSERT INTO rooms (id, name, folded_name, owner_account_id, owner_name, created, last_seq)"
       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)"},
      {&delete_room_messages_, "DELETE FROM message_blocks WHERE room_id = ?1"},
      {&delete_room_memberships_, "DELETE FROM memberships WHERE room_id = ?1"},
      {&delete_room_, "DELETE FROM rooms WHERE id = ?1"},
      {&insert_membership_, "INSERT OR IGNORE INTO memberships (account_id, room_id) VALUES (?1, ?2)"},
      {&delete_membership_, "DELETE FROM memberships WHERE account_id = ?1 AND room_id = ?2"},
      {&insert_block_, "INSERT INTO message_blocks (room_id, first_seq, last_seq, body) VALUES (?1, ?2, ?3, ?4)"},
      // Only when the block comes after what is stored (?3 = its first seq).
      {&update_last_seq_, "UPDATE rooms SET last_seq = ?2 WHERE id = ?1 AND last_seq < ?3"},
      {&stored_last_seq_, "SELECT last_seq FROM rooms WHERE id = ?1"},
      {&begin_, "BEGIN IMMEDIATE"},
      {&savepoint_, "SAVEPOINT batch"},
      {&release_, "RELEASE batch"},
      {&rollback_to_, "ROLLBACK TO batch"},
      {&commit_, "COMMIT"},
      {&update_max_room_id_,
       "INSERT INTO meta (key, value) VALUES ('max_room_id', ?1)"
       " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)"},
  };
  for (const auto& s : statements) {
    absl::StatusOr<SqliteStatement> stmt = db_->Prepare(s.sql);
    if (!stmt.ok()) return stmt.status();
    *s.stmt = *std::move(stmt);
  }
  return absl::OkStatus();
}

std::vector<CommitResult> StorageWriter::CommitGroup(const std::vector<Batch>& batches) {
  std::vector<CommitResult> results(batches.size());
  for (size_t i = 0; i < batches.size(); ++i) results[i].batch_id = batches[i].id;

  // A batch alone in its group needs no savepoint: the transaction is one,
  // and rolling it back undoes that batch and nothing else. Most groups are
  // one batch (one loop turn's writes), and a savepoint costs two statements
  // and a copy of every page the batch changes (docs/BENCHMARKS.md §9.2.2).
  const bool alone = batches.size() == 1;
  absl::Status fatal = begin_.Run();
  absl::Status failed;  // the first batch of the group that failed alone
  for (size_t i = 0; fatal.ok() && i < batches.size(); ++i) {
    if (!failed.ok()) {
      results[i].status = RefusedAfter(batches[i], failed);
      continue;
    }
    if (!alone) {
      fatal = savepoint_.Run();
      if (!fatal.ok()) break;
    }
    absl::Status status = ApplyBatch(batches[i]);
    if (status.ok()) status = FlushBlocks();
    if (status.ok()) {
      if (!alone) fatal = release_.Run();
      continue;
    }
    pending_blocks_.clear();
    if (FailsWholeGroup(status) || !db_->in_transaction()) {
      fatal = status;
      break;
    }
    results[i].status = absl::Status(status.code(), absl::StrCat("batch ", batches[i].id, ": ", status.message()));
    failed = results[i].status;
    if (alone) {
      // Nothing else was written: the whole transaction goes, and the
      // batch's own result stands (no commit to fail the rest with).
      db_->RollbackQuietly();
      return results;
    }
    fatal = rollback_to_.Run();
    if (fatal.ok()) fatal = release_.Run();
  }
  if (fatal.ok() && FaultInjected()) {
    fatal = absl::UnavailableError(
        absl::StrCat("I/O error (injected: fault file ", fault_file_, " exists) committing to ", db_->path()));
  }
  if (fatal.ok()) fatal = commit_.Run();
  if (!fatal.ok()) {
    db_->RollbackQuietly();
    pending_blocks_.clear();
    for (CommitResult& result : results) result.status = fatal;
    return results;
  }
  ++transactions_committed_;
  return results;
}

absl::Status RefusedAfter(const Batch& batch, const absl::Status& failure) {
  return absl::Status(failure.code(),
                      absl::StrCat("batch ", batch.id, " refused after an earlier batch failed: ", failure.message()));
}

absl::Status StorageWriter::ApplyBatch(const Batch& batch) {
  for (const StorageOp& op : batch.ops) {
    if (absl::Status s = ApplyOp(op); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status StorageWriter::ApplyOp(const StorageOp& op) {
  return std::visit(
      [this](const auto& o) -> absl::Status {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, NewAccount>) {
          const AccountRecord& a = o.account;
          insert_account_.BindUint(1, a.id);
          insert_account_.BindText(2, a.name);
          insert_account_.BindText(3, FoldName(a.name));
          insert_account_.BindText(4, a.password_hash);
          insert_account_.BindInt(5, a.created_unix_micros);
          return insert_account_.Run();
        } else if constexpr (std::is_same_v<T, NewSession>) {
          insert_session_.BindBlob(1, o.session.token_hash);
          insert_session_.BindUint(2, o.session.account_id);
          insert_session_.BindInt(3, o.session.expires_unix_micros);
          return insert_session_.Run();
        } else if constexpr (std::is_same_v<T, RevokeSession>) {
          delete_session_.BindBlob(1, o.token_hash);
          return delete_session_.Run();
        } else if constexpr (std::is_same_v<T, NewRoom>) {
          // Pending blocks go first: they must not land on a room created
          // (or deleted, below) after them with the same id.
          if (absl::Status s = FlushBlocks(); !s.ok()) return s;
          const RoomRecord& r = o.room;
          insert_room_.BindUint(1, r.id);
          insert_room_.BindText(2, r.name);
          insert_room_.BindText(3, FoldName(r.name));
          insert_room_.BindUint(4, r.owner_account_id);
          insert_room_.BindText(5, r.owner_name);
          insert_room_.BindInt(6, r.created_unix_micros);
          if (absl::Status s = insert_room_.Run(); !s.ok()) return s;
          update_max_room_id_.BindUint(1, r.id);
          return update_max_room_id_.Run();
        } else if constexpr (std::is_same_v<T, DeleteRoomOp>) {
          if (absl::Status s = FlushBlocks(); !s.ok()) return s;
          for (SqliteStatement* stmt : {&delete_room_messages_, &delete_room_memberships_, &delete_room_}) {
            stmt->BindUint(1, o.room_id);
            if (absl::Status s = stmt->Run(); !s.ok()) return s;
          }
          return absl::OkStatus();
        } else if constexpr (std::is_same_v<T, JoinOp>) {
          insert_membership_.BindUint(1, o.membership.account_id);
          insert_membership_.BindUint(2, o.membership.room_id);
          return insert_membership_.Run();
        } else if constexpr (std::is_same_v<T, LeaveOp>) {
          delete_membership_.BindUint(1, o.membership.account_id);
          delete_membership_.BindUint(2, o.membership.room_id);
          return delete_membership_.Run();
        } else {
          static_assert(std::is_same_v<T, AppendMessage>);
          const MessageRecord& m = o.message;
          MessageBlockBuilder& block = pending_blocks_[m.room_id];
          if (!block.CanAppend(m.seq) || block.count() >= kMaxBlockMessages) {
            // A seq that does not ascend starts a block of its own, which
            // FlushBlock then refuses if it repeats a stored seq.
            if (absl::Status s = FlushBlock(m.room_id, block); !s.ok()) return s;
            block.Clear();
          }
          block.Append(m);
          return absl::OkStatus();
        }
      },
      op);
}

absl::Status StorageWriter::FlushBlocks() {
  for (const auto& [room_id, block] : pending_blocks_) {
    if (block.empty()) continue;
    if (absl::Status s = FlushBlock(room_id, block); !s.ok()) return s;
  }
  pending_blocks_.clear();
  return absl::OkStatus();
}

absl::Status StorageWriter::FlushBlock(uint64_t room_id, const MessageBlockBuilder& block) {
  update_last_seq_.BindUint(1, room_id);
  update_last_seq_.BindUint(2, block.last_seq());
  update_last_seq_.BindUint(3, block.first_seq());
  if (absl::Status s = update_last_seq_.Run(); !s.ok()) return s;
  if (sqlite3_changes(db_->get()) == 0) {
    // Either no such room (appends to a room that is not stored are kept,
    // as in version 1) or the block repeats a stored seq.
    stored_last_seq_.BindUint(1, room_id);
    absl::StatusOr<bool> row = stored_last_seq_.Step();
    const uint64_t stored = row.ok() && *row ? stored_last_seq_.ColumnUint(0) : 0;
    stored_last_seq_.Reset();
    if (!row.ok()) return row.status();
    if (*row) {
      return absl::AlreadyExistsError(absl::StrCat("room ", room_id, ": seqs ", block.first_seq(), "..",
                                                   block.last_seq(), " not after the stored last seq ", stored));
    }
  }
  insert_block_.BindUint(1, room_id);
  insert_block_.BindUint(2, block.first_seq());
  insert_block_.BindUint(3, block.last_seq());
  insert_block_.BindBlob(4, block.body());
  return insert_block_.Run();
}

bool StorageWriter::FaultInjected() const {
  return !fault_file_.empty() && access(fault_file_.c_str(), F_OK) == 0;
}

}  // namespace muxchat::server
