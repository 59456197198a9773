// Helpers for the storage tests: a temporary data directory removed at the
// end, records with defaults, and waiting for completions by polling the
// storage's eventfd (never by sleeping). Test thread only.
#ifndef MUXCHAT_TESTS_SERVER_STORAGE_TEST_UTIL_H_
#define MUXCHAT_TESTS_SERVER_STORAGE_TEST_UTIL_H_

#include <poll.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/server/sqlite_storage.h"
#include "src/server/storage.h"

namespace muxchat::server::testing {

// How long a test waits for a completion before failing.
inline constexpr int kWaitMillis = 10000;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "muxchat_storage.XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  // The data directory inside it (not yet created: Open creates it).
  std::string data_dir() const { return path_ + "/data"; }
  std::string db_path() const { return data_dir() + "/muxchat.db"; }

 private:
  std::string path_;
};

inline StorageOptions OptionsFor(const TempDir& dir) {
  StorageOptions options;
  options.data_dir = dir.data_dir();
  options.prune_interval = absl::ZeroDuration();  // off unless a test wants it
  return options;
}

inline std::unique_ptr<SqliteStorage> MustOpen(const StorageOptions& options, LoadedState* state) {
  absl::StatusOr<std::unique_ptr<SqliteStorage>> storage = SqliteStorage::Open(options, state);
  EXPECT_TRUE(storage.ok()) << storage.status();
  return storage.ok() ? *std::move(storage) : nullptr;
}

// Waits until `n` commit results have arrived (in addition to any in
// `*commits` already) or kWaitMillis pass; reads arriving meanwhile go to `*reads`.
inline void WaitFor(Storage& storage, size_t commits_wanted, size_t reads_wanted, std::vector<CommitResult>* commits,
                    std::vector<ReadResult>* reads) {
  const absl::Time deadline = absl::Now() + absl::Milliseconds(kWaitMillis);
  while (commits->size() < commits_wanted || reads->size() < reads_wanted) {
    const int left = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left <= 0) {
      ADD_FAILURE() << "timed out waiting for storage completions: " << commits->size() << "/" << commits_wanted
                    << " commits, " << reads->size() << "/" << reads_wanted << " reads";
      return;
    }
    pollfd pfd = {storage.completion_fd(), POLLIN, 0};
    if (poll(&pfd, 1, left) > 0) storage.TakeCompletions(commits, reads);
  }
}

// Submits one batch and returns its result.
inline CommitResult Commit(Storage& storage, Batch batch) {
  const uint64_t id = batch.id;
  storage.Submit(std::move(batch));
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  WaitFor(storage, 1, 0, &commits, &reads);
  if (commits.empty()) return {id, absl::DeadlineExceededError("no commit result"), {}};
  EXPECT_EQ(commits[0].batch_id, id);
  return commits[0];
}

inline ReadResult ReadHistory(Storage& storage, HistoryRead read) {
  storage.Read(read);
  std::vector<CommitResult> commits;
  std::vector<ReadResult> reads;
  WaitFor(storage, 0, 1, &commits, &reads);
  if (reads.empty()) return {read.id, absl::DeadlineExceededError("no read result"), {}, 0};
  return reads[0];
}

inline Batch MakeBatch(uint64_t id, std::vector<StorageOp> ops) {
  Batch batch;
  batch.id = id;
  batch.ops = std::move(ops);
  return batch;
}

inline NewRoom Room(uint64_t id, std::string name, uint64_t owner_account_id = 0, std::string owner_name = "") {
  NewRoom op;
  op.room.id = id;
  op.room.name = std::move(name);
  op.room.owner_account_id = owner_account_id;
  op.room.owner_name = std::move(owner_name);
  op.room.created_unix_micros = 1'700'000'000'000'000;
  return op;
}

inline AppendMessage Message(uint64_t room_id, uint64_t seq, std::string text = "hello",
                             absl::Time ts = absl::Now(), uint64_t client_msg_id = 0) {
  AppendMessage op;
  op.message.room_id = room_id;
  op.message.seq = seq;
  op.message.sender = "alice";
  op.message.sender_account_id = 7;
  op.message.client_msg_id = client_msg_id;
  op.message.timestamp_unix_micros = absl::ToUnixMicros(ts);
  op.message.text = std::move(text);
  return op;
}

// `n` messages seq first..first+n-1 in one batch.
inline Batch Messages(uint64_t batch_id, uint64_t room_id, uint64_t first, uint64_t n,
                      absl::Time ts = absl::Now(), const std::string& text = "hello") {
  Batch batch;
  batch.id = batch_id;
  for (uint64_t seq = first; seq < first + n; ++seq) batch.ops.push_back(Message(room_id, seq, text, ts));
  return batch;
}

// Runs `sql` on the database file directly, as another program would (to
// corrupt, downgrade or add to it). Wrap in ASSERT_NO_FATAL_FAILURE to stop
// the test when it fails.
inline void RunSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  const std::string error = sqlite3_errmsg(db);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << error;
}

// One integer from `sql` on the database file, as another program would
// read it; -1 if it cannot be read.
inline int64_t QueryInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int64_t value = -1;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_STORAGE_TEST_UTIL_H_
