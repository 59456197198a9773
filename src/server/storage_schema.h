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
inline constexpr int kStorageSchemaVersion = 2;

// The page size of a new database (PRAGMA page_size; an existing database
// keeps its own). 8 KiB rather than SQLite's 4 KiB, chosen for schema
// version 1, whose messages table was WITHOUT ROWID, i.e. an index b-tree,
// whose cells keep at most about (page - 12) * 64 / 255 - 23 bytes in their
// leaf: 1,002 at 4 KiB, so every 1 KiB message spilled to an overflow page
// of its own (4.7 KB on disk per message); 2,030 at 8 KiB keeps it inline.
// docs/BENCHMARKS.md §9.2.1 measures it. Version 2's message blocks (a rowid
// table) were measured at 8 KiB only (§9.2.3).
inline constexpr int kStoragePageSize = 8192;

// Brings the database open on `db` to kStorageSchemaVersion. A fresh (empty)
// database gets every migration. kFailedPrecondition, naming both versions,
// when the database is newer than this binary, or when it holds tables but no
// version (not a muxchat database); SqliteStatus errors otherwise.
absl::Status MigrateSchema(SqliteConnection& db);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_STORAGE_SCHEMA_H_
