// The durable store's schema and its versioned migrations. The version lives
// in SQLite's PRAGMA user_version; kMigrations in storage_schema.cc holds one
// step per version, applied in order, each in its own transaction. Called on
// the thread that opens the storage, before its threads start.
#ifndef MUXCHAT_SERVER_STORAGE_SCHEMA_H_
#define MUXCHAT_SERVER_STORAGE_SCHEMA_H_

#include "absl/status/status.h"
#include "src/server/sqlite_connection.h"

namespace muxchat::server {

// The schema this binary writes and reads.
inline constexpr int kStorageSchemaVersion = 1;

// Brings the database open on `db` to kStorageSchemaVersion. A fresh (empty)
// database gets every migration. kFailedPrecondition, naming both versions,
// when the database is newer than this binary, or when it holds tables but no
// version (not a muxchat database); SqliteStatus errors otherwise.
absl::Status MigrateSchema(SqliteConnection& db);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_STORAGE_SCHEMA_H_
