// The SQL of history reads (HistoryRead -> ReadResult) on the storage's
// read-only connection. Used only on the storage's reader thread; borrows the
// connection, which must outlive it.
#ifndef MUXCHAT_SERVER_STORAGE_READER_H_
#define MUXCHAT_SERVER_STORAGE_READER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "src/server/sqlite_connection.h"
#include "src/server/sqlite_statement.h"
#include "src/server/storage.h"

namespace muxchat::server {

class StorageReader {
 public:
  static absl::StatusOr<std::unique_ptr<StorageReader>> Create(SqliteConnection* db);
  StorageReader(const StorageReader&) = delete;
  StorageReader& operator=(const StorageReader&) = delete;

  // One page of a room's history, ascending by seq, read in one read
  // transaction with the room's oldest stored seq (a snapshot: WAL lets it
  // run while the writer commits). With both after_seq and before_seq set,
  // the oldest `limit` strictly between them.
  ReadResult Read(const HistoryRead& read);

 private:
  explicit StorageReader(SqliteConnection* db) : db_(db) {}
  absl::Status ReadInTransaction(const HistoryRead& read, ReadResult* result);

  SqliteConnection* db_;
  SqliteStatement oldest_seq_;
  SqliteStatement blocks_after_;    // ascending from the block holding after_seq + 1
  SqliteStatement block_holding_;   // the block that may hold before_seq - 1 and later seqs
  SqliteStatement blocks_before_;   // descending from before the block holding before_seq
  std::vector<MessageRecord> decoded_;  // one block's records, reused
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_STORAGE_READER_H_
