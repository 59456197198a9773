#include "src/server/storage_schema.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/server/message_block.h"
#include "src/server/sqlite_statement.h"

namespace muxchat::server {
namespace {

struct Migration {
  int to_version;
  const char* sql;
  // Runs after `sql` in the same transaction: row copies SQL cannot express. May be null.
  absl::Status (*copy)(SqliteConnection& db);
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

// Version 2: messages are stored one row per batch per room, the batch's
// messages encoded in one body (src/server/message_block.h), instead of one
// row per message. A commit of 64 messages inserts one row at the right edge
// of a rowid table and one small index entry, instead of 64 rows into an
// index b-tree (WITHOUT ROWID) that rebalances its right-most leaves with
// their siblings: docs/BENCHMARKS.md §9.2.3 measures it. The index is the
// only way in: by (room_id, last_seq), so "the block holding seq s" is the
// first with last_seq >= s, and a room's blocks never overlap (the writer
// refuses a block not after rooms.last_seq). messages is dropped after its
// rows are copied (kMigrationBlockMessages to a block).
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE message_blocks (
  id INTEGER PRIMARY KEY,
  room_id INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE UNIQUE INDEX message_blocks_by_room ON message_blocks (room_id, last_seq);
)sql";

// Messages per block when copying version 1's rows: the size of the usual
// group commit (the clients' window), so that history reads decode as much
// per block as they do on blocks written live.
constexpr uint64_t kMigrationBlockMessages = 64;

absl::Status InsertBlock(SqliteStatement& insert, uint64_t room_id, const MessageBlockBuilder& block) {
  insert.BindUint(1, room_id);
  insert.BindUint(2, block.first_seq());
  insert.BindUint(3, block.last_seq());
  insert.BindBlob(4, block.body());
  return insert.Run();
}

// Copies version 1's messages into message_blocks, then drops the table.
absl::Status CopyMessagesIntoBlocks(SqliteConnection& db) {
  absl::StatusOr<SqliteStatement> rows = db.Prepare(
      "SELECT room_id, seq, sender, sender_account_id, client_msg_id, ts, text FROM messages ORDER BY room_id, seq");
  if (!rows.ok()) return rows.status();
  absl::StatusOr<SqliteStatement> insert =
      db.Prepare("INSERT INTO message_blocks (room_id, first_seq, last_seq, body) VALUES (?1, ?2, ?3, ?4)");
  if (!insert.ok()) return insert.status();
  MessageBlockBuilder block;
  uint64_t block_room = 0;
  for (;;) {
    absl::StatusOr<bool> row = rows->Step();
    if (!row.ok()) return row.status();
    const uint64_t room_id = *row ? rows->ColumnUint(0) : 0;
    if (!block.empty() && (!*row || room_id != block_room || block.count() >= kMigrationBlockMessages)) {
      if (absl::Status s = InsertBlock(*insert, block_room, block); !s.ok()) return s;
      block.Clear();
    }
    if (!*row) break;
    MessageRecord m;
    m.seq = rows->ColumnUint(1);
    m.sender = rows->ColumnString(2);
    m.sender_account_id = rows->ColumnUint(3);
    m.client_msg_id = rows->ColumnUint(4);
    m.timestamp_unix_micros = rows->ColumnInt(5);
    m.text = rows->ColumnString(6);
    block_room = room_id;
    block.Append(m);  // (room_id, seq) was the primary key: seqs ascend within a room
  }
  rows->Reset();
  *rows = SqliteStatement();  // finalized before the DROP
  *insert = SqliteStatement();
  return db.Exec("DROP TABLE messages");
}

// kMigrations[i] takes a database from version i to i + 1. To change the
// schema, append a step and raise kStorageSchemaVersion; never edit a shipped step.
constexpr Migration kMigrations[] = {
    {1, kSchemaV1, nullptr},
    {2, kSchemaV2, CopyMessagesIntoBlocks},
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
      if (status.ok() && step.copy != nullptr) status = step.copy(db);
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
