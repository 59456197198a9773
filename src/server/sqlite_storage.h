// Storage on SQLite: the writer thread (group commit, retention pruning), the
// reader thread (history pages) and the checkpointer thread (copies the WAL
// back into the database off the commit path), each with its own connection
// to DIR/muxchat.db in WAL mode, opened through the WAL write-gathering VFS
// (wal_write_gather_vfs.h). The Storage methods are for the loop thread;
// the counters and test hooks below may be called from any thread. Owns its
// threads, connections and the completion eventfd.
#ifndef MUXCHAT_SERVER_SQLITE_STORAGE_H_
#define MUXCHAT_SERVER_SQLITE_STORAGE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/server/retention_pruner.h"
#include "src/server/sqlite_connection.h"
#include "src/server/storage.h"
#include "src/server/storage_reader.h"
#include "src/server/storage_writer.h"

namespace muxchat::server {

class SqliteStorage : public Storage {
 public:
  // The database file inside StorageOptions::data_dir.
  static constexpr char kDatabaseFileName[] = "muxchat.db";

  // Storage::Open's work (see storage.h): creates the directory (mode 0700),
  // locks it (kFailedPrecondition while another process has it open), checks
  // the file (kDataLoss, naming it, if it is not a SQLite database or
  // fails PRAGMA quick_check), migrates, loads `state`, starts the threads.
  static absl::StatusOr<std::unique_ptr<SqliteStorage>> Open(const StorageOptions& options, LoadedState* state);
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;
  ~SqliteStorage() override;

  int completion_fd() const override { return event_fd_; }
  void Submit(Batch batch) override;
  void Read(HistoryRead read) override;
  void TakeCompletions(std::vector<CommitResult>* commits, std::vector<ReadResult>* reads) override;
  void Close() override;

  // Transactions the writer committed with batches in them (a group of
  // batches taken together counts once). A group takes every queued batch,
  // up to 4,096 ops.
  uint64_t transactions_committed() const { return transactions_committed_.load(); }
  uint64_t messages_pruned() const { return messages_pruned_.load(); }
  // Retention passes finished (the first starts at Open, then one every prune_interval).
  uint64_t prune_passes() const { return prune_passes_.load(); }
  // WAL checkpoints by the checkpointer thread, and by the writer when the
  // WAL grew past what the checkpointer keeps up with.
  uint64_t checkpoints() const { return checkpoints_.load(); }
  uint64_t writer_checkpoints() const { return writer_checkpoints_.load(); }
  // Waits until prune_passes() >= n; false on timeout.
  bool WaitForPrunePasses(uint64_t n, absl::Duration timeout);
  // Waits until checkpoints() >= n; false on timeout.
  bool WaitForCheckpoints(uint64_t n, absl::Duration timeout);
  // Test hook: while held, the writer takes no batches from its queue, so
  // several Submits end up in one group.
  void HoldWritesForTest(bool hold);
  // Test hook: while held, the checkpointer thread does nothing (the writer's
  // own checkpoints past kWriterCheckpointPages still run).
  void HoldCheckpointsForTest(bool hold) { hold_checkpoints_.store(hold); }

 private:
  SqliteStorage(const StorageOptions& options, int event_fd, int lock_fd);
  void WriterLoop();
  // Moves the next group of queued batches into `group` (mu_ held).
  void TakeGroup(std::vector<Batch>* group);
  void ReaderLoop();
  void CheckpointLoop();
  // sqlite3_wal_hook on the writer connection, after each commit: wakes the
  // checkpointer once the WAL holds kCheckpointPages, checkpoints itself past
  // kWriterCheckpointPages.
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int wal_pages);
  void PostCommits(std::vector<CommitResult> results);
  void PostRead(ReadResult result);
  void Wake();

  const StorageOptions options_;
  const int event_fd_;
  const int lock_fd_;  // flock on DIR/LOCK: one process per data directory

  // Connections first, so that the statement holders below go before them.
  std::unique_ptr<SqliteConnection> writer_db_;
  std::unique_ptr<SqliteConnection> reader_db_;
  std::unique_ptr<SqliteConnection> checkpoint_db_;
  std::unique_ptr<StorageWriter> writer_;
  std::unique_ptr<RetentionPruner> pruner_;
  std::unique_ptr<StorageReader> reader_;

  // Queues in, guarded by mu_.
  std::mutex mu_;
  std::condition_variable writer_cv_;
  std::condition_variable reader_cv_;
  std::condition_variable prune_cv_;
  std::condition_variable checkpoint_cv_;
  std::condition_variable checkpoint_done_cv_;  // WaitForCheckpoints
  bool checkpoint_wanted_ = false;
  // OnWalCommit's state (writer thread only): the WAL's size after the last
  // commit, and the size at which the checkpointer is woken next.
  int last_wal_pages_ = 0;
  int next_checkpoint_pages_;  // kCheckpointPages at first (set by the constructor)
  std::vector<Batch> batches_;
  std::vector<HistoryRead> reads_;
  bool closing_ = false;
  bool hold_writes_ = false;
  // A commit failed and the loop has not taken its result yet: the batches
  // submitted meanwhile were written behind the failed one (their seqs
  // follow its own), so the writer refuses them unapplied, and
  // TakeCompletions refuses those still queued when it hands the failure
  // over. Batches submitted after that commit again.
  absl::Status refusing_;

  // Completions out, guarded by done_mu_.
  std::mutex done_mu_;
  std::vector<CommitResult> done_commits_;
  std::vector<ReadResult> done_reads_;

  std::atomic<uint64_t> transactions_committed_{0};
  std::atomic<uint64_t> messages_pruned_{0};
  std::atomic<uint64_t> prune_passes_{0};
  std::atomic<uint64_t> checkpoints_{0};
  std::atomic<uint64_t> writer_checkpoints_{0};
  std::atomic<bool> hold_checkpoints_{false};

  std::thread writer_thread_;
  std::thread reader_thread_;
  std::thread checkpoint_thread_;
  bool closed_ = false;  // loop thread only
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_SQLITE_STORAGE_H_
