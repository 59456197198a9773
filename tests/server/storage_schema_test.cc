// Opening a database that this binary must not use: newer schema, not a
// SQLite file, a corrupt page, someone else's SQLite database. Each is a
// clear error naming the file, never an empty start.
#include "src/server/storage_schema.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "src/server/sqlite_storage.h"
#include "tests/server/storage_test_util.h"

namespace muxchat::server {
namespace {

using testing::Commit;
using testing::MakeBatch;
using testing::Messages;
using testing::MustOpen;
using testing::OptionsFor;
using testing::QueryInt;
using testing::ReadHistory;
using testing::Room;
using testing::RunSql;
using testing::TempDir;

void CreateDatabaseWithHistory(const TempDir& dir) {
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 2000, absl::Now(), std::string(100, 'm'))).status.ok());
}

// Version 1 as it shipped (src/server/storage_schema.cc kSchemaV1, before
// version 2): one row per message in a WITHOUT ROWID table.
constexpr char kVersion1Schema[] = R"sql(
CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, folded_name TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL, created INTEGER NOT NULL);
CREATE TABLE sessions (token_hash BLOB PRIMARY KEY, account_id INTEGER NOT NULL, expires INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE TABLE rooms (id INTEGER PRIMARY KEY, name TEXT NOT NULL, folded_name TEXT NOT NULL UNIQUE,
  owner_account_id INTEGER NOT NULL, owner_name TEXT NOT NULL, created INTEGER NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE memberships (account_id INTEGER NOT NULL, room_id INTEGER NOT NULL,
  PRIMARY KEY (account_id, room_id)) WITHOUT ROWID;
CREATE INDEX memberships_by_room ON memberships (room_id);
CREATE TABLE messages (room_id INTEGER NOT NULL, seq INTEGER NOT NULL, sender TEXT NOT NULL,
  sender_account_id INTEGER NOT NULL, client_msg_id INTEGER NOT NULL, ts INTEGER NOT NULL, text TEXT NOT NULL,
  PRIMARY KEY (room_id, seq)) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
PRAGMA user_version = 1;
)sql";

// A version 1 database: rooms 1 (150 messages: more than one migrated
// block), 2 (3 messages with client ids, one of them in the dedupe window)
// and 3 (none); room 1's first 20 messages already pruned.
void CreateVersion1Database(const TempDir& dir, absl::Time now) {
  std::filesystem::create_directory(dir.data_dir());
  std::string sql = kVersion1Schema;
  absl::StrAppend(&sql,
                  "INSERT INTO rooms VALUES (1, 'Lobby', 'lobby', 7, 'alice', 1700000000000000, 170),"
                  " (2, 'b', 'b', 0, 'guest', 1700000000000001, 3), (3, 'c', 'c', 7, 'alice', 1700000000000002, 0);"
                  "INSERT INTO accounts VALUES (7, 'alice', 'alice', '$argon2id$fake', 1700000000000000);"
                  "INSERT INTO memberships VALUES (7, 1), (7, 3);"
                  "INSERT INTO meta VALUES ('max_room_id', 4);"
                  "WITH RECURSIVE n(i) AS (SELECT 21 UNION ALL SELECT i + 1 FROM n WHERE i < 170)"
                  " INSERT INTO messages SELECT 1, i, 'alice', 7, 0, 1700000000000000 + i, 'text ' || i FROM n;");
  const int64_t now_micros = absl::ToUnixMicros(now);
  absl::StrAppend(&sql, "INSERT INTO messages VALUES (2, 1, 'Zoë', 0, 41, ", now_micros - 3'600'000'000,
                  ", 'zoë says' || char(10) || 'hi'), (2, 2, 'bob', 8, 42, ", now_micros - 1'000'000, ", ''), (2, 3, 'bob', 8, 0, ",
                  now_micros, ", 'last');");
  RunSql(dir.db_path(), sql);
}

std::vector<std::tuple<uint64_t, uint64_t, std::string, uint64_t, uint64_t, int64_t, std::string>> Rows(
    const std::vector<MessageRecord>& messages) {
  std::vector<std::tuple<uint64_t, uint64_t, std::string, uint64_t, uint64_t, int64_t, std::string>> out;
  for (const MessageRecord& m : messages) {
    out.emplace_back(m.room_id, m.seq, m.sender, m.sender_account_id, m.client_msg_id, m.timestamp_unix_micros,
                     m.text);
  }
  return out;
}

TEST(StorageSchema, Version1MessagesMigrateWithEveryFieldAndTheSameHistory) {
  TempDir dir;
  const absl::Time now = absl::Now();
  CreateVersion1Database(dir, now);
  StorageOptions options = OptionsFor(dir);
  options.recent_per_room = 5;
  LoadedState state;
  auto storage = MustOpen(options, &state);
  ASSERT_NE(storage, nullptr);

  // Room 1, all of it, and pages from inside and across migrated blocks.
  ReadResult all = ReadHistory(*storage, {1, 1, 0, 0, 1000});
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.oldest_seq, 21u);
  ASSERT_EQ(all.messages.size(), 150u);
  for (size_t i = 0; i < all.messages.size(); ++i) {
    const MessageRecord& m = all.messages[i];
    const uint64_t seq = 21 + i;
    ASSERT_EQ(Rows({m}), Rows({{1, seq, "alice", 7, 0, static_cast<int64_t>(1'700'000'000'000'000 + seq),
                                absl::StrCat("text ", seq)}}));
  }
  const ReadResult page = ReadHistory(*storage, {2, 1, 80, 0, 10});
  ASSERT_EQ(page.messages.size(), 10u);
  EXPECT_EQ(page.messages.front().seq, 81u);
  const ReadResult before = ReadHistory(*storage, {3, 1, 0, 90, 100});
  ASSERT_EQ(before.messages.size(), 69u);
  EXPECT_EQ(before.messages.back().seq, 89u);

  // Room 2: every field, the empty text and the non-ASCII ones included.
  const ReadResult b = ReadHistory(*storage, {4, 2, 0, 0, 10});
  const int64_t now_micros = absl::ToUnixMicros(now);
  EXPECT_EQ(Rows(b.messages), Rows({{2, 1, "Zoë", 0, 41, now_micros - 3'600'000'000, "zoë says\nhi"},
                                    {2, 2, "bob", 8, 42, now_micros - 1'000'000, ""},
                                    {2, 3, "bob", 8, 0, now_micros, "last"}}));
  EXPECT_TRUE(ReadHistory(*storage, {5, 3, 0, 0, 10}).messages.empty());
}

TEST(StorageSchema, AMigratedDatabaseLoadsTheSameStateAsVersion1Did) {
  TempDir dir;
  const absl::Time now = absl::Now();
  CreateVersion1Database(dir, now);
  StorageOptions options = OptionsFor(dir);
  options.recent_per_room = 5;
  LoadedState state;
  ASSERT_NE(MustOpen(options, &state), nullptr);

  ASSERT_EQ(state.rooms.size(), 3u);
  EXPECT_EQ(state.rooms[0].last_seq, 170u);
  EXPECT_EQ(state.rooms[0].owner_name, "alice");
  EXPECT_EQ(state.max_room_id, 4u);
  EXPECT_EQ(state.accounts.size(), 1u);
  EXPECT_EQ(state.memberships.size(), 2u);
  std::vector<std::pair<uint64_t, uint64_t>> recent;
  for (const MessageRecord& m : state.recent) recent.emplace_back(m.room_id, m.seq);
  EXPECT_EQ(recent, (std::vector<std::pair<uint64_t, uint64_t>>{
                        {1, 166}, {1, 167}, {1, 168}, {1, 169}, {1, 170}, {2, 1}, {2, 2}, {2, 3}}));
  // Resend dedupe: client id 42 is within the 10-minute window, 41 is not.
  ASSERT_EQ(state.recent_client_ids.size(), 1u);
  EXPECT_EQ(state.recent_client_ids[0].client_msg_id, 42u);
  EXPECT_EQ(state.recent_client_ids[0].seq, 2u);
}

TEST(StorageSchema, MigrationLeavesVersion2WithoutTheMessagesTable) {
  TempDir dir;
  CreateVersion1Database(dir, absl::Now());
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  storage->Close();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.db_path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT (SELECT count(*) FROM sqlite_schema WHERE name = 'messages'),"
                               " (SELECT user_version FROM pragma_user_version),"
                               " (SELECT count(*) FROM message_blocks WHERE room_id = 1)",
                               -1, &stmt, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 0);
  EXPECT_EQ(sqlite3_column_int(stmt, 1), 2);
  EXPECT_EQ(sqlite3_column_int(stmt, 2), 3);  // 150 messages, 64 to a block
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// Appends after a migration continue the room's seqs, in blocks of their own.
TEST(StorageSchema, AMigratedRoomTakesNewMessagesAfterItsLastSeq) {
  TempDir dir;
  CreateVersion1Database(dir, absl::Now());
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  EXPECT_TRUE(absl::IsAlreadyExists(Commit(*storage, Messages(1, 1, 170, 1)).status));
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 171, 2)).status.ok());
  const ReadResult newest = ReadHistory(*storage, {1, 1, 0, 0, 3});
  ASSERT_EQ(newest.messages.size(), 3u);
  EXPECT_EQ(newest.messages[0].text, "text 170");
  EXPECT_EQ(newest.messages[2].seq, 172u);
}

TEST(StorageSchema, NewDatabaseGetsTheCurrentVersion) {
  TempDir dir;
  LoadedState state;
  ASSERT_NE(MustOpen(OptionsFor(dir), &state), nullptr);
  EXPECT_EQ(QueryInt(dir.db_path(), "PRAGMA user_version"), kStorageSchemaVersion);
}

TEST(StorageSchema, ReopeningTheCurrentVersionKeepsTheData) {
  TempDir dir;
  CreateDatabaseWithHistory(dir);
  LoadedState state;
  ASSERT_NE(MustOpen(OptionsFor(dir), &state), nullptr);
  ASSERT_EQ(state.rooms.size(), 1u);
  EXPECT_EQ(state.rooms[0].last_seq, 2000u);
}

TEST(StorageSchema, NewerSchemaIsFailedPreconditionNamingBothVersions) {
  TempDir dir;
  CreateDatabaseWithHistory(dir);
  RunSql(dir.db_path(), "PRAGMA user_version = 99");
  LoadedState state;
  absl::StatusOr<std::unique_ptr<Storage>> storage = Storage::Open(OptionsFor(dir), &state);
  ASSERT_TRUE(absl::IsFailedPrecondition(storage.status())) << storage.status();
  const std::string message(storage.status().message());
  EXPECT_NE(message.find("version 99"), std::string::npos) << message;
  EXPECT_NE(message.find(absl::StrCat("up to ", kStorageSchemaVersion)), std::string::npos) << message;
  EXPECT_NE(message.find(dir.db_path()), std::string::npos) << message;
}

TEST(StorageSchema, FileThatIsNotSqliteIsDataLossNamingIt) {
  TempDir dir;
  std::filesystem::create_directory(dir.data_dir());
  std::ofstream(dir.db_path()) << std::string(10000, 'g');
  LoadedState state;
  absl::StatusOr<std::unique_ptr<Storage>> storage = Storage::Open(OptionsFor(dir), &state);
  ASSERT_TRUE(absl::IsDataLoss(storage.status())) << storage.status();
  EXPECT_NE(storage.status().message().find(dir.db_path()), std::string::npos) << storage.status();
  EXPECT_EQ(std::filesystem::file_size(dir.db_path()), 10000u);  // left as it was
}

TEST(StorageSchema, CorruptPageIsDataLossNamingTheFile) {
  TempDir dir;
  CreateDatabaseWithHistory(dir);
  {
    // Pages 3.. hold the tables' b-trees: overwrite a stretch of them.
    const int fd = open(dir.db_path().c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::string junk(4 * 4096, '\xA5');
    ASSERT_EQ(pwrite(fd, junk.data(), junk.size(), 3 * 4096), static_cast<ssize_t>(junk.size()));
    close(fd);
  }
  LoadedState state;
  absl::StatusOr<std::unique_ptr<Storage>> storage = Storage::Open(OptionsFor(dir), &state);
  ASSERT_TRUE(absl::IsDataLoss(storage.status())) << storage.status();
  EXPECT_NE(storage.status().message().find(dir.db_path()), std::string::npos) << storage.status();
}

TEST(StorageSchema, AnotherProgramsSqliteDatabaseIsRefused) {
  TempDir dir;
  std::filesystem::create_directory(dir.data_dir());
  RunSql(dir.db_path(), "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')");
  LoadedState state;
  absl::StatusOr<std::unique_ptr<Storage>> storage = Storage::Open(OptionsFor(dir), &state);
  ASSERT_TRUE(absl::IsFailedPrecondition(storage.status())) << storage.status();
  EXPECT_NE(storage.status().message().find("not a muxchat database"), std::string::npos) << storage.status();
}

TEST(StorageSchema, ADataDirInUseIsRefusedUntilItsStorageCloses) {
  TempDir dir;
  LoadedState state;
  auto first = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<Storage>> second = Storage::Open(OptionsFor(dir), &state);
  ASSERT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status();
  first.reset();
  EXPECT_NE(MustOpen(OptionsFor(dir), &state), nullptr);
}

TEST(StorageSchema, DataDirThatIsAFileIsAnError) {
  TempDir dir;
  std::ofstream(dir.data_dir()) << "x";
  LoadedState state;
  absl::StatusOr<std::unique_ptr<Storage>> storage = Storage::Open(OptionsFor(dir), &state);
  ASSERT_TRUE(absl::IsFailedPrecondition(storage.status())) << storage.status();
}

}  // namespace
}  // namespace muxchat::server
