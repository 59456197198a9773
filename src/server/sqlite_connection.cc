#include "src/server/sqlite_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace muxchat::server {
namespace {

// How long a statement waits for a lock held by another connection (another
// process on the same directory, a checkpoint) before failing with
// SQLITE_BUSY. Our own two connections never contend for a write lock.
constexpr int kBusyTimeoutMillis = 5000;

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path, int flags,
                                                                       const char* vfs) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, vfs);
  if (rc != SQLITE_OK) {
    absl::Status status = SqliteStatus(rc, db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
                                       absl::StrCat("opening ", path));
    sqlite3_close(db);
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMillis);
  return std::unique_ptr<SqliteConnection>(new SqliteConnection(db, path));
}

SqliteConnection::~SqliteConnection() { sqlite3_close(db_); }

absl::Status SqliteConnection::Exec(absl::string_view sql) {
  const std::string text(sql);
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return absl::OkStatus();
  absl::Status status = SqliteStatus(rc, error != nullptr ? error : sqlite3_errstr(rc), absl::StrCat(path_, ": ", sql));
  sqlite3_free(error);
  return status;
}

absl::StatusOr<SqliteStatement> SqliteConnection::Prepare(absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteStatus(rc, sqlite3_errmsg(db_), absl::StrCat(path_, ": preparing ", sql));
  }
  return SqliteStatement(stmt);
}

absl::StatusOr<std::string> SqliteConnection::QueryText(absl::string_view sql) {
  absl::StatusOr<SqliteStatement> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  return *row ? stmt->ColumnString(0) : std::string();
}

absl::StatusOr<int64_t> SqliteConnection::QueryInt(absl::string_view sql) {
  absl::StatusOr<SqliteStatement> stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  return *row ? stmt->ColumnInt(0) : 0;
}

void SqliteConnection::RollbackQuietly() {
  if (in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace muxchat::server
