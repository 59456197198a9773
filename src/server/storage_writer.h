// The SQL of the storage's writes: applies groups of Batches to the writer
// connection, each group in one transaction (group commit). Used only on the
// storage's writer thread; borrows the connection, which must outlive it.
#ifndef MUXCHAT_SERVER_STORAGE_WRITER_H_
#define MUXCHAT_SERVER_STORAGE_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/server/message_block.h"
#include "src/server/sqlite_connection.h"
#include "src/server/sqlite_statement.h"
#include "src/server/storage.h"

namespace muxchat::server {

// The result of a batch refused, unapplied, because `failure` came before it.
absl::Status RefusedAfter(const Batch& batch, const absl::Status& failure);

class StorageWriter {
 public:
  // Prepares the statements. `fault_file`: while it exists, every commit
  // fails as an I/O error would (StorageOptions::fault_file); "" = never.
  static absl::StatusOr<std::unique_ptr<StorageWriter>> Create(SqliteConnection* db, std::string fault_file);
  StorageWriter(const StorageWriter&) = delete;
  StorageWriter& operator=(const StorageWriter&) = delete;

  // Applies `batches` in order in one transaction and returns one result per
  // batch, in order. Each batch runs inside its own savepoint (a batch alone
  // in its group inside the transaction itself, which is one): a batch that
  // breaks a constraint (a duplicate name, or a message seq not after its
  // room's stored last seq) fails with kAlreadyExists and
  // leaves no trace, and the batches after it in the group are refused
  // unapplied with the same code (RefusedAfter): they were written after it
  // and may carry the seqs that follow its own. Disk full
  // (kResourceExhausted), an I/O error (kUnavailable) or corruption
  // (kDataLoss) rolls the whole transaction back and fails every batch in
  // it. The next call starts afresh.
  std::vector<CommitResult> CommitGroup(const std::vector<Batch>& batches);

  uint64_t transactions_committed() const { return transactions_committed_; }

 private:
  StorageWriter(SqliteConnection* db, std::string fault_file) : db_(db), fault_file_(std::move(fault_file)) {}
  absl::Status Prepare();
  absl::Status ApplyBatch(const Batch& batch);
  absl::Status ApplyOp(const StorageOp& op);
  // Writes each room's pending block (appends since the last flush) as one
  // message_blocks row and moves rooms.last_seq to its last seq. A block not
  // after the room's stored last_seq is refused (kAlreadyExists): a seq is
  // never stored twice.
  absl::Status FlushBlocks();
  absl::Status FlushBlock(uint64_t room_id, const MessageBlockBuilder& block);
  bool FaultInjected() const;

  SqliteConnection* db_;
  std::string fault_file_;
  uint64_t transactions_committed_ = 0;
  // Appends gather here per room; FlushBlocks writes one row and one
  // rooms.last_seq UPDATE per room per batch instead of one row per message.
  absl::flat_hash_map<uint64_t, MessageBlockBuilder> pending_blocks_;

  // The transaction's own statements, prepared once like the rest instead of
  // parsed by sqlite3_exec for every commit.
  SqliteStatement begin_;
  SqliteStatement savepoint_;
  SqliteStatement release_;
  SqliteStatement rollback_to_;
  SqliteStatement commit_;
  SqliteStatement insert_account_;
  SqliteStatement insert_session_;
  SqliteStatement delete_session_;
  SqliteStatement insert_room_;
  SqliteStatement delete_room_messages_;
  SqliteStatement delete_room_memberships_;
  SqliteStatement delete_room_;
  SqliteStatement insert_membership_;
  SqliteStatement delete_membership_;
  SqliteStatement insert_block_;
  SqliteStatement update_last_seq_;
  SqliteStatement stored_last_seq_;
  SqliteStatement update_max_room_id_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_STORAGE_WRITER_H_
