// A prepared SQLite statement (RAII over sqlite3_stmt): bind, step, read
// columns, reset. Belongs to the connection that prepared it and is used on
// that connection's thread only; it must be destroyed before the connection.
#ifndef MUXCHAT_SERVER_SQLITE_STATEMENT_H_
#define MUXCHAT_SERVER_SQLITE_STATEMENT_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace muxchat::server {

// The canonical status for SQLite result code `rc` (primary or extended),
// with `context` and SQLite's message: SQLITE_FULL -> kResourceExhausted
// ("disk full"), I/O, locking and out-of-memory errors -> kUnavailable,
// SQLITE_CORRUPT and SQLITE_NOTADB -> kDataLoss, SQLITE_CONSTRAINT ->
// kAlreadyExists, anything else -> kInternal.
absl::Status SqliteStatus(int rc, absl::string_view sqlite_message, absl::string_view context);

class SqliteStatement {
 public:
  SqliteStatement() = default;
  // Takes ownership of `stmt` (may be null: an empty statement).
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  SqliteStatement(SqliteStatement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Rewinds the statement and clears its bindings, ready to bind and step again.
  void Reset();

  // Parameters are numbered from 1, as in SQL's ?1. Unsigned values are
  // stored as SQLite's signed 64-bit integers (our ids stay below 2^63).
  void BindInt(int index, int64_t value);
  void BindUint(int index, uint64_t value) { BindInt(index, static_cast<int64_t>(value)); }
  void BindText(int index, absl::string_view value);  // copied by SQLite
  void BindBlob(int index, absl::string_view value);  // copied by SQLite

  // true: a row is ready for the column accessors; false: done. On an error
  // the statement is reset and the status says why (SqliteStatus).
  absl::StatusOr<bool> Step();
  // Steps a statement that returns no rows (INSERT, UPDATE, DELETE) to done, then resets it.
  absl::Status Run();

  // Columns of the current row, numbered from 0.
  int64_t ColumnInt(int index) const { return sqlite3_column_int64(stmt_, index); }
  uint64_t ColumnUint(int index) const { return static_cast<uint64_t>(ColumnInt(index)); }
  bool ColumnIsNull(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }
  // Text or blob bytes, valid until the next Step or Reset.
  absl::string_view ColumnBytes(int index) const;
  std::string ColumnString(int index) const { return std::string(ColumnBytes(index)); }

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_SQLITE_STATEMENT_H_
