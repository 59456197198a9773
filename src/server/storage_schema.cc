#include "src/server/storage_schema.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace muxchat::server {
namespace {

struct Migration {
  int to_version;
  const char* sql;
};

// Version 1. Names are unique by folded_name (ASCII lower case, as
// name_rules' FoldName). Tables keyed by a composite key are WITHOUT ROWID so
// the key is stored once and a room's messages lie together in (room_id, seq)
// order: Load's newest-N per room and history pages are range scans of the
// primary key. No FOREIGN KEY clauses: the writer deletes a room's rows itself
// (DeleteRoomOp) and appends would otherwise pay a parent lookup each.
// meta holds counters that must outlive the rows they count: max_room_id,
// so that a deleted room's ID is never handed out again after a restart.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  folded_name TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created INTEGER NOT NULL
);
CREATE TABLE sessions (
  token_hash BLOB PRIMARY KEY,
  account_id INTEGER NOT NULL,
  expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE rooms (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  folded_name TEXT NOT NULL UNIQUE,
  owner_account_id INTEGER NOT NULL,
  owner_name TEXT NOT NULL,
  created INTEGER NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE memberships (
  account_id INTEGER NOT NULL,
  room_id INTEGER NOT NULL,
  PRIMARY KEY (account_id, room_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_room ON memberships (room_id);
CREATE TABLE messages (
  room_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  sender TEXT NOT NULL,
  sender_account_id INTEGER NOT NULL,
  client_msg_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// kMigrations[i] takes a database from version i to i + 1. To change the
// schema, append a step and raise kStorageSchemaVersion; never edit a shipped step.
constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kStorageSchemaVersion,
              "one migration per schema version");

}  // namespace

absl::Status MigrateSchema(SqliteConnection& db) {
  absl::StatusOr<int64_t> version = db.QueryInt("PRAGMA user_version");
  if (!version.ok()) return version.status();
  if (*version > kStorageSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(db.path(), " has schema version ", *version, " but this muxchatd knows versions up to ",
                     kStorageSchemaVersion, ": run a newer muxchatd on it (or start on another --data_dir)"));
  }
  if (*version == 0) {
    absl::StatusOr<int64_t> tables = db.QueryInt("SELECT count(*) FROM sqlite_schema");
    if (!tables.ok()) return tables.status();
    if (*tables > 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          db.path(), " is a SQLite database without a muxchat schema version (", *tables,
          " objects in it): not a muxchat database"));
    }
  }
  for (const Migration& step : kMigrations) {
    if (step.to_version <= *version) continue;
    // BEGIN IMMEDIATE: two processes opening one directory at once migrate
    // one after the other; the second sees the new version below.
    if (absl::Status s = db.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    absl::StatusOr<int64_t> current = db.QueryInt("PRAGMA user_version");
    absl::Status status = current.status();
    if (status.ok() && *current < step.to_version) {
      status = db.Exec(step.sql);
      if (status.ok()) status = db.Exec(absl::StrCat("PRAGMA user_version = ", step.to_version));
    }
    if (status.ok()) status = db.Exec("COMMIT");
    if (!status.ok()) {
      db.RollbackQuietly();
      return absl::Status(status.code(),
                          absl::StrCat("migrating to schema version ", step.to_version, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace muxchat::server
