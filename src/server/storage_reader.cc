#include "src/server/storage_reader.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

namespace muxchat::server {
namespace {

constexpr int64_t kNoUpperBound = std::numeric_limits<int64_t>::max();

MessageRecord MessageFromRow(const SqliteStatement& row, uint64_t room_id) {
  MessageRecord m;
  m.room_id = room_id;
  m.seq = row.ColumnUint(0);
  m.sender = row.ColumnString(1);
  m.sender_account_id = row.ColumnUint(2);
  m.client_msg_id = row.ColumnUint(3);
  m.timestamp_unix_micros = row.ColumnInt(4);
  m.text = row.ColumnString(5);
  return m;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StorageReader>> StorageReader::Create(SqliteConnection* db) {
  std::unique_ptr<StorageReader> reader(new StorageReader(db));
  absl::StatusOr<SqliteStatement> oldest = db->Prepare("SELECT min(seq) FROM messages WHERE room_id = ?1");
  if (!oldest.ok()) return oldest.status();
  reader->oldest_seq_ = *std::move(oldest);
  absl::StatusOr<SqliteStatement> ascending = db->Prepare(
      "SELECT seq, sender, sender_account_id, client_msg_id, ts, text FROM messages"
      " WHERE room_id = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq LIMIT ?4");
  if (!ascending.ok()) return ascending.status();
  reader->oldest_page_ = *std::move(ascending);
  absl::StatusOr<SqliteStatement> descending = db->Prepare(
      "SELECT seq, sender, sender_account_id, client_msg_id, ts, text FROM messages"
      " WHERE room_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3");
  if (!descending.ok()) return descending.status();
  reader->newest_page_ = *std::move(descending);
  return reader;
}

ReadResult StorageReader::Read(const HistoryRead& read) {
  ReadResult result;
  result.read_id = read.id;
  absl::Status status = db_->Exec("BEGIN");
  if (status.ok()) status = ReadInTransaction(read, &result);
  if (status.ok()) status = db_->Exec("COMMIT");
  if (!status.ok()) {
    db_->RollbackQuietly();
    result.messages.clear();
    result.oldest_seq = 0;
    result.status = status;
  }
  return result;
}

absl::Status StorageReader::ReadInTransaction(const HistoryRead& read, ReadResult* result) {
  oldest_seq_.BindUint(1, read.room_id);
  absl::StatusOr<bool> row = oldest_seq_.Step();
  if (!row.ok()) return row.status();
  result->oldest_seq = *row && !oldest_seq_.ColumnIsNull(0) ? oldest_seq_.ColumnUint(0) : 0;
  oldest_seq_.Reset();
  if (read.limit == 0 || result->oldest_seq == 0) return absl::OkStatus();

  const int64_t upper = read.before_seq > 0 ? static_cast<int64_t>(read.before_seq) : kNoUpperBound;
  const bool forward = read.forward || read.after_seq > 0;
  SqliteStatement& page = forward ? oldest_page_ : newest_page_;
  page.BindUint(1, read.room_id);
  if (forward) {
    page.BindUint(2, read.after_seq);
    page.BindInt(3, upper);
    page.BindInt(4, read.limit);
  } else {
    page.BindInt(2, upper);
    page.BindInt(3, read.limit);
  }
  for (;;) {
    row = page.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    result->messages.push_back(MessageFromRow(page, read.room_id));
  }
  page.Reset();
  if (!forward) std::reverse(result->messages.begin(), result->messages.end());
  return absl::OkStatus();
}

}  // namespace muxchat::server
