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
using testing::Room;
using testing::TempDir;

// Runs `sql` on the database file directly, as another program would.
void RunSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

void CreateDatabaseWithHistory(const TempDir& dir) {
  LoadedState state;
  auto storage = MustOpen(OptionsFor(dir), &state);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(Commit(*storage, MakeBatch(1, {Room(1, "a")})).status.ok());
  ASSERT_TRUE(Commit(*storage, Messages(2, 1, 1, 2000, absl::Now(), std::string(100, 'm'))).status.ok());
}

TEST(StorageSchema, NewDatabaseGetsTheCurrentVersion) {
  TempDir dir;
  LoadedState state;
  ASSERT_NE(MustOpen(OptionsFor(dir), &state), nullptr);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.db_path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), kStorageSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
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
