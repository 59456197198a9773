#include "src/server/storage_reader.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "src/server/message_block.h"

namespace muxchat::server {
namespace {

constexpr int64_t kNoUpperBound = std::numeric_limits<int64_t>::max();

}  // namespace

absl::StatusOr<std::unique_ptr<StorageReader>> StorageReader::Create(SqliteConnection* db) {
  std::unique_ptr<StorageReader> reader(new StorageReader(db));
  struct {
    SqliteStatement* stmt;
    const char* sql;
  } const statements[] = {
      {&reader->oldest_seq_, "SELECT first_seq FROM message_blocks WHERE room_id = ?1 ORDER BY last_seq LIMIT 1"},
      // Blocks never overlap, so the first with last_seq > after_seq is the
      // one that holds after_seq + 1 (or the next one up).
      {&reader->blocks_after_,
       "SELECT first_seq, last_seq, body FROM message_blocks WHERE room_id = ?1 AND last_seq > ?2 ORDER BY last_seq"},
      {&reader->block_holding_,
       "SELECT first_seq, last_seq, body FROM message_blocks WHERE room_id = ?1 AND last_seq >= ?2 ORDER BY last_seq "
       "LIMIT 1"},
      {&reader->blocks_before_,
       "SELECT first_seq, last_seq, body FROM message_blocks WHERE room_id = ?1 AND last_seq < ?2 "
       "ORDER BY last_seq DESC"},
  };
  for (const auto& s : statements) {
    absl::StatusOr<SqliteStatement> stmt = db->Prepare(s.sql);
    if (!stmt.ok()) return stmt.status();
    *s.stmt = *std::move(stmt);
  }
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

  // Seqs are stored as SQLite's signed 64-bit integers: bounds past them
  // (a client may ask for any uint64) are clamped, or they would bind as
  // negative numbers and pick the wrong blocks.
  if (read.after_seq >= static_cast<uint64_t>(kNoUpperBound)) return absl::OkStatus();
  const uint64_t upper = read.before_seq > 0 ? std::min(read.before_seq, static_cast<uint64_t>(kNoUpperBound))
                                             : static_cast<uint64_t>(kNoUpperBound);
  const bool forward = read.forward || read.after_seq > 0;
  std::vector<MessageRecord>& out = result->messages;
  absl::Status status;
  if (forward) {
    // Ascending: the oldest `limit` with after_seq < seq < upper.
    blocks_after_.BindUint(1, read.room_id);
    blocks_after_.BindUint(2, read.after_seq);
    while (status.ok() && out.size() < read.limit) {
      row = blocks_after_.Step();
      if (!row.ok()) return row.status();
      if (!*row || blocks_after_.ColumnUint(0) >= upper) break;
      decoded_.clear();
      status = DecodeStoredBlock(read.room_id, blocks_after_.ColumnUint(0), blocks_after_.ColumnUint(1),
                                 blocks_after_.ColumnBytes(2), &decoded_);
      for (MessageRecord& m : decoded_) {
        if (m.seq <= read.after_seq) continue;
        if (m.seq >= upper || out.size() >= read.limit) break;
        out.push_back(std::move(m));
      }
    }
    blocks_after_.Reset();
    return status;
  }

  // Descending: the newest `limit` with seq < upper, gathered newest first,
  // from the block that may hold upper - 1 (it may hold later seqs too) and
  // then the blocks before it.
  uint64_t below = upper;  // blocks_before_ takes the blocks with last_seq below this
  if (read.before_seq > 0) {
    block_holding_.BindUint(1, read.room_id);
    block_holding_.BindUint(2, upper - 1);
    row = block_holding_.Step();
    if (!row.ok()) return row.status();
    if (*row && block_holding_.ColumnUint(0) < upper) {
      decoded_.clear();
      status = DecodeStoredBlock(read.room_id, block_holding_.ColumnUint(0), block_holding_.ColumnUint(1),
                                 block_holding_.ColumnBytes(2), &decoded_);
      for (auto m = decoded_.rbegin(); m != decoded_.rend() && out.size() < read.limit; ++m) {
        if (m->seq < upper) out.push_back(std::move(*m));
      }
      below = block_holding_.ColumnUint(0);  // its own last_seq >= upper - 1: skip it below
    }
    block_holding_.Reset();
    if (!status.ok()) return status;
  }
  blocks_before_.BindUint(1, read.room_id);
  blocks_before_.BindInt(2, static_cast<int64_t>(below));
  while (status.ok() && out.size() < read.limit) {
    row = blocks_before_.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    decoded_.clear();
    status = DecodeStoredBlock(read.room_id, blocks_before_.ColumnUint(0), blocks_before_.ColumnUint(1),
                               blocks_before_.ColumnBytes(2), &decoded_);
    for (auto m = decoded_.rbegin(); m != decoded_.rend() && out.size() < read.limit; ++m) {
      if (m->seq < upper) out.push_back(std::move(*m));
    }
  }
  blocks_before_.Reset();
  std::reverse(out.begin(), out.end());
  return status;
}

}  // namespace muxchat::server
