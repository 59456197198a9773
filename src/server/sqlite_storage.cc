#include "src/server/sqlite_storage.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/server/storage_loader.h"
#include "src/server/storage_schema.h"
#include "src/server/wal_write_gather_vfs.h"

namespace muxchat::server {
namespace {

constexpr char kSqliteHeader[] = "SQLite format 3";  // 16 bytes with its NUL

// The checkpointer copies the WAL into the database once it holds this many
// pages: SQLite's own wal_autocheckpoint default, but run on its own thread.
// Left to SQLite, the commit that crosses it does the copy and its fsyncs
// itself: with 100 rooms written interleaved, 64-message batches in
// synchronous=NORMAL took 4.5 ms per commit instead of ~2 ms (bench/storage_restart.cc).
// In bytes, 4 MiB, as the marks were measured with 4 KiB pages (1,000 pages).
constexpr int kCheckpointPages = (4 << 20) / kStoragePageSize;
// A checkpoint running beside a busy writer never catches up with it, and
// SQLite starts the WAL over only once one has: under sustained writes the
// WAL grew without bound (690 MB for 400,000 messages). Past this many pages
// the writer itself checkpoints after its commit; nothing is appended
// meanwhile, so that one finishes (copying what the checkpointer has not
// yet) and the next transaction starts the WAL over.
constexpr int kWriterCheckpointPages = 4 * kCheckpointPages;  // 16 MiB
// The WAL file is cut back to this size when it starts over.
constexpr int64_t kWalSizeLimitBytes = 64 << 20;

// A group commit takes queued batches up to this many ops (at least one
// batch), so that one transaction, and the WAL it writes, stay bounded when
// the loop outruns the disk (and the savepoints' copies of changed pages stay
// small). Filling 1M messages with 64 batches of 1,000 in flight made
// transactions of ~37,000 messages without it; 64-message batches, 64 in
// flight, commit as fast with groups of 4,096 as of 16,384.
constexpr size_t kMaxOpsPerGroup = 4096;

// The writer's page cache: the leaf pages of 1,000 busy rooms' messages
// (kStoragePageSize each) stay cached. SQLite's default is 2 MiB.
constexpr int kWriterCacheKiB = 32 * 1024;

// Creates `dir` with mode 0700 (its missing parents with the default mode).
absl::Status MakeDataDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("storage: empty data directory");
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (mkdir(dir.c_str(), 0700) != 0) {
    const int err = errno;
    struct stat st;
    if (err != EEXIST || stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat("cannot create data directory ", dir, ": ",
                                                        err == EEXIST ? "not a directory" : strerror(err)));
    }
  }
  return absl::OkStatus();
}

// An exclusive flock on DIR/LOCK, held as long as the returned fd is open:
// two servers writing one database would interleave seqs. The kernel drops it
// when the process dies, so a restart after kill -9 is not refused.
absl::StatusOr<int> LockDataDir(const std::string& dir) {
  const std::string path = dir + "/LOCK";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("data directory ", dir, " is in use by another process (", path, " is locked)"));
    }
    return absl::UnavailableError(absl::StrCat("cannot lock ", path, ": ", strerror(err)));
  }
  return fd;
}

// kDataLoss unless an existing, non-empty `path` starts with SQLite's header:
// SQLite itself would only notice on the first read, with a vaguer message.
absl::Status CheckHeader(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  }
  char header[sizeof(kSqliteHeader)] = {};
  const ssize_t n = read(fd, header, sizeof(header));
  close(fd);
  if (n == 0) return absl::OkStatus();  // created but never written: a new database
  if (n != static_cast<ssize_t>(sizeof(header)) || memcmp(header, kSqliteHeader, sizeof(header)) != 0) {
    return absl::DataLossError(absl::StrCat(path, " is not a SQLite database (bad header); refusing to start on it"));
  }
  return absl::OkStatus();
}

// Corruption found by SQLite while opening (SQLITE_NOTADB, SQLITE_CORRUPT)
// becomes kDataLoss naming the file; other errors keep their code.
absl::Status AtOpen(const absl::Status& status, const std::string& path) {
  if (status.ok()) return status;
  if (absl::IsDataLoss(status)) {
    return absl::DataLossError(absl::StrCat(path, " is corrupt: ", status.message()));
  }
  return absl::Status(status.code(), absl::StrCat("opening ", path, ": ", status.message()));
}

absl::Status ConfigureWriter(SqliteConnection& db, const StorageOptions& options) {
  // Before anything writes the file (journal_mode = WAL does): a page size is
  // fixed when the database is created, and ignored for an existing one.
  if (absl::Status s = db.Exec(absl::StrCat("PRAGMA page_size = ", kStoragePageSize)); !s.ok()) return s;
  absl::StatusOr<std::string> mode = db.QueryText("PRAGMA journal_mode = WAL");
  if (!mode.ok()) return mode.status();
  if (*mode != "wal") {
    return absl::FailedPreconditionError(absl::StrCat("journal_mode is '", *mode, "', not 'wal'"));
  }
  if (absl::Status s = db.Exec(options.sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = db.Exec(absl::StrCat("PRAGMA cache_size = -", kWriterCacheKiB)); !s.ok()) return s;
  // Each batch's savepoint keeps the pages it changes for a rollback to it;
  // in memory rather than in a temporary file.
  if (absl::Status s = db.Exec("PRAGMA temp_store = MEMORY"); !s.ok()) return s;
  if (absl::Status s = db.Exec(absl::StrCat("PRAGMA journal_size_limit = ", kWalSizeLimitBytes)); !s.ok()) return s;
  if (options.max_page_count > 0) {
    absl::StatusOr<int64_t> pages = db.QueryInt(absl::StrCat("PRAGMA max_page_count = ", options.max_page_count));
    if (!pages.ok()) return pages.status();
  }
  return absl::OkStatus();
}

absl::Status QuickCheck(SqliteConnection& db) {
  absl::StatusOr<std::string> verdict = db.QueryText("PRAGMA quick_check");
  if (!verdict.ok()) return verdict.status();
  if (*verdict != "ok") {
    return absl::DataLossError(absl::StrCat("PRAGMA quick_check fails: ", *verdict));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStorage>> SqliteStorage::Open(const StorageOptions& options,
                                                                   LoadedState* state) {
  if (absl::Status s = MakeDataDir(options.data_dir); !s.ok()) return s;
  absl::StatusOr<int> lock_fd = LockDataDir(options.data_dir);
  if (!lock_fd.ok()) return lock_fd.status();
  const std::string path = absl::StrCat(options.data_dir, "/", kDatabaseFileName);
  if (absl::Status s = CheckHeader(path); !s.ok()) {
    close(*lock_fd);
    return s;
  }
  struct stat st;
  const bool existed = stat(path.c_str(), &st) == 0 && st.st_size > 0;

  const int event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd < 0) {
    const int err = errno;
    close(*lock_fd);
    return absl::UnavailableError(absl::StrCat("eventfd: ", strerror(err)));
  }
  std::unique_ptr<SqliteStorage> storage(new SqliteStorage(options, event_fd, *lock_fd));
  // The writer's WAL frames go out in one write per commit (wal_write_gather_vfs.h).
  if (absl::Status s = RegisterWalWriteGatherVfs(kWalWriteGatherVfsName, "", kWalWriteGatherBytes); !s.ok()) {
    return s;
  }

  absl::StatusOr<std::unique_ptr<SqliteConnection>> writer_db =
      SqliteConnection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kWalWriteGatherVfsName);
  if (!writer_db.ok()) return AtOpen(writer_db.status(), path);
  storage->writer_db_ = *std::move(writer_db);
  SqliteConnection& db = *storage->writer_db_;
  if (absl::Status s = ConfigureWriter(db, options); !s.ok()) return AtOpen(s, path);
  if (existed) {
    if (absl::Status s = QuickCheck(db); !s.ok()) return AtOpen(s, path);
  }
  if (absl::Status s = MigrateSchema(db); !s.ok()) return AtOpen(s, path);
  if (absl::Status s = LoadStoredState(db, options.recent_per_room, options.dedupe_window, absl::Now(), state);
      !s.ok()) {
    return AtOpen(s, path);
  }

  absl::StatusOr<std::unique_ptr<StorageWriter>> writer = StorageWriter::Create(&db, options.fault_file);
  if (!writer.ok()) return AtOpen(writer.status(), path);
  storage->writer_ = *std::move(writer);
  absl::StatusOr<std::unique_ptr<RetentionPruner>> pruner =
      RetentionPruner::Create(&db, options.retention_messages, options.retention_age);
  if (!pruner.ok()) return AtOpen(pruner.status(), path);
  storage->pruner_ = *std::move(pruner);

  absl::StatusOr<std::unique_ptr<SqliteConnection>> reader_db =
      SqliteConnection::Open(path, SQLITE_OPEN_READONLY, kWalWriteGatherVfsName);
  if (!reader_db.ok()) return AtOpen(reader_db.status(), path);
  storage->reader_db_ = *std::move(reader_db);
  absl::StatusOr<std::unique_ptr<StorageReader>> reader = StorageReader::Create(storage->reader_db_.get());
  if (!reader.ok()) return AtOpen(reader.status(), path);
  storage->reader_ = *std::move(reader);

  absl::StatusOr<std::unique_ptr<SqliteConnection>> checkpoint_db =
      SqliteConnection::Open(path, SQLITE_OPEN_READWRITE, kWalWriteGatherVfsName);
  if (!checkpoint_db.ok()) return AtOpen(checkpoint_db.status(), path);
  storage->checkpoint_db_ = *std::move(checkpoint_db);
  // A connection learns that the database is in WAL mode, and opens the WAL,
  // only on its first read; until then sqlite3_wal_checkpoint_v2 on it does
  // nothing and returns SQLITE_OK (SQLite 3.40, sqlite3PagerCheckpoint). So
  // it reads once here: without this the checkpointer copied nothing, and
  // every checkpoint was the writer's own, past kWriterCheckpointPages, on
  // the commit path (docs/BENCHMARKS.md §9.2.2).
  if (absl::StatusOr<int64_t> n = storage->checkpoint_db_->QueryInt("SELECT count(*) FROM sqlite_schema"); !n.ok()) {
    return AtOpen(n.status(), path);
  }
  // Replaces SQLite's automatic checkpoint (itself a WAL hook) on the writer.
  sqlite3_wal_hook(db.get(), &SqliteStorage::OnWalCommit, storage.get());

  storage->checkpoint_thread_ = std::thread([s = storage.get()] { s->CheckpointLoop(); });
  storage->writer_thread_ = std::thread([s = storage.get()] { s->WriterLoop(); });
  storage->reader_thread_ = std::thread([s = storage.get()] { s->ReaderLoop(); });
  return storage;
}

SqliteStorage::SqliteStorage(const StorageOptions& options, int event_fd, int lock_fd)
    : options_(options), event_fd_(event_fd), lock_fd_(lock_fd), next_checkpoint_pages_(kCheckpointPages) {}

SqliteStorage::~SqliteStorage() {
  Close();
  close(event_fd_);
  close(lock_fd_);  // after the connections: the next process may open the directory
}

void SqliteStorage::Close() {
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    hold_writes_ = false;
  }
  writer_cv_.notify_all();
  reader_cv_.notify_all();
  checkpoint_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
  if (reader_thread_.joinable()) reader_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  checkpoint_db_.reset();
  reader_.reset();
  pruner_.reset();
  writer_.reset();
  reader_db_.reset();
  writer_db_.reset();  // the last connection: SQLite checkpoints and removes the WAL
}

void SqliteStorage::Submit(Batch batch) {
  if (closed_) {
    std::vector<CommitResult> refused(1);
    refused[0].batch_id = batch.id;
    refused[0].status = absl::FailedPreconditionError("storage is closed");
    PostCommits(std::move(refused));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    batches_.push_back(std::move(batch));
  }
  writer_cv_.notify_one();
}

void SqliteStorage::Read(HistoryRead read) {
  if (closed_) {
    ReadResult refused;
    refused.read_id = read.id;
    refused.status = absl::FailedPreconditionError("storage is closed");
    PostRead(std::move(refused));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    reads_.push_back(read);
  }
  reader_cv_.notify_one();
}

void SqliteStorage::TakeCompletions(std::vector<CommitResult>* commits, std::vector<ReadResult>* reads) {
  // The eventfd is drained before the lists are taken: a completion posted in
  // between makes it readable again rather than being missed. One read
  // drains it (a counter, not a semaphore); a second would only fail with
  // EAGAIN, a syscall per commit.
  uint64_t count;
  [[maybe_unused]] const ssize_t n = read(event_fd_, &count, sizeof(count));
  std::lock_guard<std::mutex> lock(mu_);  // before done_mu_, as nowhere the other way round
  std::lock_guard<std::mutex> done_lock(done_mu_);
  bool failure_taken = false;
  for (CommitResult& c : done_commits_) {
    failure_taken = failure_taken || !c.status.ok();
    commits->push_back(std::move(c));
  }
  for (ReadResult& r : done_reads_) reads->push_back(std::move(r));
  done_commits_.clear();
  done_reads_.clear();
  if (failure_taken && !refusing_.ok()) {
    // The caller learns of the failure now: what it queued before is refused.
    for (const Batch& b : batches_) commits->push_back(CommitResult{b.id, RefusedAfter(b, refusing_), {}});
    batches_.clear();
    refusing_ = absl::OkStatus();
  }
}

bool SqliteStorage::WaitForPrunePasses(uint64_t n, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return prune_cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] { return prune_passes_.load() >= n; });
}

bool SqliteStorage::WaitForCheckpoints(uint64_t n, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return checkpoint_done_cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                                      [&] { return checkpoints_.load() >= n; });
}

void SqliteStorage::HoldWritesForTest(bool hold) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    hold_writes_ = hold;
  }
  writer_cv_.notify_all();
}

void SqliteStorage::WriterLoop() {
  using Clock = std::chrono::steady_clock;
  const bool prune = options_.prune_interval > absl::ZeroDuration();
  const auto interval = absl::ToChronoMilliseconds(options_.prune_interval);
  Clock::time_point next_pass = Clock::now();  // the first pass right after Open
  for (;;) {
    std::vector<Batch> group;
    absl::Status refusing;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto ready = [&] {
        return closing_ || (!batches_.empty() && !hold_writes_) || pruner_->in_pass() ||
               (prune && Clock::now() >= next_pass);
      };
      if (prune) {
        writer_cv_.wait_until(lock, next_pass, ready);
      } else {
        writer_cv_.wait(lock, ready);
      }
      if (!hold_writes_) TakeGroup(&group);
      if (group.empty() && closing_) break;
      refusing = refusing_;
    }
    if (!group.empty()) {
      std::vector<CommitResult> results;
      if (refusing.ok()) {
        results = writer_->CommitGroup(group);
        transactions_committed_.store(writer_->transactions_committed());
      } else {
        for (const Batch& b : group) results.push_back(CommitResult{b.id, RefusedAfter(b, refusing), {}});
      }
      for (size_t i = 0; i < results.size() && i < group.size(); ++i) {
        if (results[i].status.ok()) results[i].ops = std::move(group[i].ops);
      }
      for (const CommitResult& r : results) {
        if (r.status.ok() || !refusing.ok()) continue;
        std::lock_guard<std::mutex> lock(mu_);  // set before the failure is posted
        refusing_ = r.status;
        break;
      }
      PostCommits(std::move(results));
      continue;  // batches before pruning: a Step runs only when none wait
    }
    if (!prune) continue;
    if (!pruner_->in_pass()) {
      if (Clock::now() < next_pass) continue;
      // A failed pass (disk full, I/O error) is simply tried again next interval.
      if (!pruner_->BeginPass(absl::Now()).ok() || !pruner_->in_pass()) {
        next_pass = Clock::now() + interval;
        {
          std::lock_guard<std::mutex> lock(mu_);
          prune_passes_.fetch_add(1);
        }
        prune_cv_.notify_all();
        continue;
      }
    }
    absl::StatusOr<bool> more = pruner_->Step();
    messages_pruned_.store(pruner_->messages_pruned());
    if (!more.ok() || !*more) {
      next_pass = Clock::now() + interval;
      {
        std::lock_guard<std::mutex> lock(mu_);
        prune_passes_.fetch_add(1);
      }
      prune_cv_.notify_all();
    }
  }
}

void SqliteStorage::ReaderLoop() {
  for (;;) {
    std::vector<HistoryRead> reads;
    {
      std::unique_lock<std::mutex> lock(mu_);
      reader_cv_.wait(lock, [&] { return closing_ || !reads_.empty(); });
      if (reads_.empty() && closing_) break;
      reads.swap(reads_);
    }
    for (const HistoryRead& read : reads) PostRead(reader_->Read(read));
  }
}

void SqliteStorage::TakeGroup(std::vector<Batch>* group) {
  size_t ops = 0;
  size_t taken = 0;
  while (taken < batches_.size() && (taken == 0 || ops + batches_[taken].ops.size() <= kMaxOpsPerGroup)) {
    ops += batches_[taken].ops.size();
    ++taken;
  }
  if (taken == batches_.size()) {
    group->swap(batches_);
    return;
  }
  std::move(batches_.begin(), batches_.begin() + taken, std::back_inserter(*group));
  batches_.erase(batches_.begin(), batches_.begin() + taken);
}

int SqliteStorage::OnWalCommit(void* self, sqlite3* db, const char*, int wal_pages) {
  auto* storage = static_cast<SqliteStorage*>(self);
  if (wal_pages < storage->last_wal_pages_) storage->next_checkpoint_pages_ = kCheckpointPages;  // started over
  storage->last_wal_pages_ = wal_pages;
  if (wal_pages >= kWriterCheckpointPages) {
    // SQLITE_BUSY while the checkpointer runs: tried again after the next commit.
    sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    storage->writer_checkpoints_.fetch_add(1);
  } else if (wal_pages >= storage->next_checkpoint_pages_) {
    // Once per kCheckpointPages of growth, not after every commit: a pass
    // costs two fsyncs, and the one before has copied most of the WAL.
    storage->next_checkpoint_pages_ = wal_pages + kCheckpointPages;
    {
      std::lock_guard<std::mutex> lock(storage->mu_);
      storage->checkpoint_wanted_ = true;
    }
    storage->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStorage::CheckpointLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      checkpoint_cv_.wait(lock, [&] { return closing_ || checkpoint_wanted_; });
      if (closing_) break;  // closing the last connection checkpoints
      checkpoint_wanted_ = false;
    }
    if (hold_checkpoints_.load()) continue;
    // PASSIVE: copies what no reader still needs, never waits for the
    // writer or readers; what it leaves is copied by the next one. A
    // failure (disk full) leaves the WAL longer, and is retried then too.
    sqlite3_wal_checkpoint_v2(checkpoint_db_->get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    {
      std::lock_guard<std::mutex> lock(mu_);
      checkpoints_.fetch_add(1);
    }
    checkpoint_done_cv_.notify_all();
  }
}

void SqliteStorage::PostCommits(std::vector<CommitResult> results) {
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    for (CommitResult& r : results) done_commits_.push_back(std::move(r));
  }
  Wake();
}

void SqliteStorage::PostRead(ReadResult result) {
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_reads_.push_back(std::move(result));
  }
  Wake();
}

void SqliteStorage::Wake() {
  const uint64_t one = 1;
  // Cannot fail short of the counter overflowing 2^64 - 1; nothing to do if it did.
  [[maybe_unused]] ssize_t n = write(event_fd_, &one, sizeof(one));
}

}  // namespace muxchat::server
