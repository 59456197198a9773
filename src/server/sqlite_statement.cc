#include "src/server/sqlite_statement.h"

#include "absl/strings/str_cat.h"

namespace muxchat::server {

absl::Status SqliteStatus(int rc, absl::string_view sqlite_message, absl::string_view context) {
  const std::string detail = absl::StrCat(context, ": ", sqlite_message, " (sqlite code ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return absl::OkStatus();
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(absl::StrCat("disk full: ", detail));
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return absl::UnavailableError(detail);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(detail);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(detail);
    default:
      return absl::InternalError(detail);
  }
}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void SqliteStatement::BindInt(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void SqliteStatement::BindText(int index, absl::string_view value) {
  sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void SqliteStatement::BindBlob(int index, absl::string_view value) {
  // A zero-length blob would bind as NULL from a null data pointer; "" keeps it a blob.
  sqlite3_bind_blob64(stmt_, index, value.empty() ? "" : value.data(), value.size(), SQLITE_TRANSIENT);
}

absl::StatusOr<bool> SqliteStatement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  // With extended codes on, sqlite3_step returns the precise code; the
  // message must be read before the reset that may replace it.
  absl::Status status = SqliteStatus(rc, sqlite3_errmsg(db), sqlite3_sql(stmt_));
  sqlite3_reset(stmt_);
  return status;
}

absl::Status SqliteStatement::Run() {
  absl::StatusOr<bool> row = Step();
  Reset();
  if (!row.ok()) return row.status();
  return absl::OkStatus();
}

absl::string_view SqliteStatement::ColumnBytes(int index) const {
  const void* data = sqlite3_column_blob(stmt_, index);
  const int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr || size <= 0) return {};
  return absl::string_view(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace muxchat::server
