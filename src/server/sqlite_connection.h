// One SQLite connection (RAII over sqlite3*), opened with extended result
// codes and a busy timeout. Used by one thread at a time (opened NOMUTEX):
// the storage's writer and reader threads each own one. Statements it
// prepares must be destroyed before it.
#ifndef MUXCHAT_SERVER_SQLITE_CONNECTION_H_
#define MUXCHAT_SERVER_SQLITE_CONNECTION_H_

#include <sqlite3.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/server/sqlite_statement.h"

namespace muxchat::server {

class SqliteConnection {
 public:
  // Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_NOMUTEX is
  // added) through the VFS called `vfs` (the default if null). Errors as
  // SqliteStatus, naming the path.
  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(const std::string& path, int flags,
                                                                const char* vfs = nullptr);
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection();

  // Runs one or more statements that return nothing useful (DDL, PRAGMA
  // settings, BEGIN/COMMIT).
  absl::Status Exec(absl::string_view sql);
  // A statement kept for the connection's life (SQLITE_PREPARE_PERSISTENT).
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql);
  // The first column of the first row of `sql` as text ("" if no row):
  // PRAGMA queries such as journal_mode and quick_check.
  absl::StatusOr<std::string> QueryText(absl::string_view sql);
  absl::StatusOr<int64_t> QueryInt(absl::string_view sql);

  // True while a transaction is open (false after SQLite rolled one back by itself).
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  // Rolls back the open transaction, if any; errors are ignored because
  // SQLite may already have rolled it back (disk full, I/O error).
  void RollbackQuietly();

  const std::string& path() const { return path_; }
  sqlite3* get() const { return db_; }

 private:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_SQLITE_CONNECTION_H_
