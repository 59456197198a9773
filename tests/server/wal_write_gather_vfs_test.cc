// The WAL write-gathering VFS: frames are held until their commit frame is
// complete and then written with one call, and every other use of the -wal
// file (a read, its size, a sync, a write out of sequence, the bound) sees
// them written first. Underneath is a counting VFS over the default one, so
// each test sees the writes that reach the real file; the files are real, in a
// temporary directory.
#include "src/server/wal_write_gather_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/server/storage_test_util.h"

namespace muxchat::server {
namespace {

using testing::TempDir;

constexpr char kCountingVfs[] = "muxchat-test-counting";
constexpr char kGatherVfs[] = "muxchat-test-gather";
constexpr char kSmallGatherVfs[] = "muxchat-test-gather-small";
constexpr int kPage = 4096;
constexpr int kFrame = 24 + kPage;

// Writes that reached the real -wal files (through the counting VFS).
std::atomic<int> wal_writes{0};
std::atomic<int64_t> wal_bytes{0};

// The counting VFS: each file is the default VFS's object placed after a
// small header whose methods count xWrite on -wal files and pass all through.
struct CountingFile {
  sqlite3_file file;
  sqlite3_file* real;
  bool wal;
};
constexpr size_t kCountingOffset = (sizeof(CountingFile) + 7) & ~size_t{7};
sqlite3_vfs* counting_base = nullptr;

sqlite3_file* RealOf(sqlite3_file* f) { return reinterpret_cast<CountingFile*>(f)->real; }
int CClose(sqlite3_file* f) { return RealOf(f)->pMethods->xClose(RealOf(f)); }
int CRead(sqlite3_file* f, void* p, int n, sqlite3_int64 o) { return RealOf(f)->pMethods->xRead(RealOf(f), p, n, o); }
int CWrite(sqlite3_file* f, const void* p, int n, sqlite3_int64 o) {
  if (reinterpret_cast<CountingFile*>(f)->wal) {
    wal_writes.fetch_add(1);
    wal_bytes.fetch_add(n);
  }
  return RealOf(f)->pMethods->xWrite(RealOf(f), p, n, o);
}
int CTruncate(sqlite3_file* f, sqlite3_int64 s) { return RealOf(f)->pMethods->xTruncate(RealOf(f), s); }
int CSync(sqlite3_file* f, int flags) { return RealOf(f)->pMethods->xSync(RealOf(f), flags); }
int CFileSize(sqlite3_file* f, sqlite3_int64* s) { return RealOf(f)->pMethods->xFileSize(RealOf(f), s); }
int CLock(sqlite3_file* f, int l) { return RealOf(f)->pMethods->xLock(RealOf(f), l); }
int CUnlock(sqlite3_file* f, int l) { return RealOf(f)->pMethods->xUnlock(RealOf(f), l); }
int CCheck(sqlite3_file* f, int* out) { return RealOf(f)->pMethods->xCheckReservedLock(RealOf(f), out); }
int CControl(sqlite3_file* f, int op, void* a) { return RealOf(f)->pMethods->xFileControl(RealOf(f), op, a); }
int CSector(sqlite3_file* f) { return RealOf(f)->pMethods->xSectorSize(RealOf(f)); }
int CDevice(sqlite3_file* f) { return RealOf(f)->pMethods->xDeviceCharacteristics(RealOf(f)); }
int CShmMap(sqlite3_file* f, int i, int sz, int ext, void volatile** p) {
  return RealOf(f)->pMethods->xShmMap(RealOf(f), i, sz, ext, p);
}
int CShmLock(sqlite3_file* f, int o, int n, int flags) { return RealOf(f)->pMethods->xShmLock(RealOf(f), o, n, flags); }
void CShmBarrier(sqlite3_file* f) { RealOf(f)->pMethods->xShmBarrier(RealOf(f)); }
int CShmUnmap(sqlite3_file* f, int del) { return RealOf(f)->pMethods->xShmUnmap(RealOf(f), del); }

// Version 2 (shared memory, no mmap): enough for WAL mode.
const sqlite3_io_methods kCountingMethods = {2,       CClose,   CRead,     CWrite,      CTruncate,   CSync,
                                             CFileSize, CLock,  CUnlock,   CCheck,      CControl,    CSector,
                                             CDevice, CShmMap,  CShmLock,  CShmBarrier, CShmUnmap,   nullptr,
                                             nullptr};

int COpen(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  auto* c = reinterpret_cast<CountingFile*>(file);
  c->file.pMethods = nullptr;
  c->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kCountingOffset);
  c->real->pMethods = nullptr;
  c->wal = (flags & SQLITE_OPEN_WAL) != 0;
  const int rc = counting_base->xOpen(counting_base, name, c->real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  c->file.pMethods = &kCountingMethods;
  return SQLITE_OK;
}

// Registers the counting VFS and the two gathering VFSs over it, once.
void RegisterVfss() {
  static const bool done = [] {
    counting_base = sqlite3_vfs_find(nullptr);
    static sqlite3_vfs counting = *counting_base;
    counting.iVersion = 1;  // its other methods are the base's, which ignore the vfs argument
    counting.szOsFile = static_cast<int>(kCountingOffset) + counting_base->szOsFile;
    counting.zName = kCountingVfs;
    counting.pNext = nullptr;
    counting.xOpen = COpen;
    EXPECT_EQ(sqlite3_vfs_register(&counting, 0), SQLITE_OK);
    EXPECT_TRUE(RegisterWalWriteGatherVfs(kGatherVfs, kCountingVfs, kWalWriteGatherBytes).ok());
    EXPECT_TRUE(RegisterWalWriteGatherVfs(kSmallGatherVfs, kCountingVfs, 3 * kFrame).ok());
    return true;
  }();
  (void)done;
}

// A frame header for `pgno`; `db_pages` is non-zero for a commit's last frame.
std::string Header(uint32_t pgno, uint32_t db_pages) {
  std::string h(24, '\0');
  for (int i = 0; i < 4; ++i) {
    h[i] = static_cast<char>(pgno >> (24 - 8 * i));
    h[4 + i] = static_cast<char>(db_pages >> (24 - 8 * i));
  }
  return h;
}

std::string Page(char fill) { return std::string(kPage, fill); }

int64_t FrameOffset(int i) { return 32 + int64_t{i} * kFrame; }  // frame i from 0

// A -wal file opened straight through a VFS, as SQLite opens one.
class WalFile {
 public:
  WalFile(const std::string& vfs_name, const std::string& db_path) {
    RegisterVfss();
    vfs_ = sqlite3_vfs_find(vfs_name.c_str());
    // The default VFS copies the database file's mode onto its -wal, so the
    // database file exists first.
    FILE* db = fopen(db_path.c_str(), "w");
    if (db != nullptr) fclose(db);
    path_ = db_path + "-wal";
    memory_.assign(vfs_->szOsFile, 0);
    file_ = reinterpret_cast<sqlite3_file*>(memory_.data());
    int out = 0;
    open_rc_ = vfs_->xOpen(vfs_, path_.c_str(), file_,
                           SQLITE_OPEN_WAL | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &out);
    // The WAL header, written through as SQLite does before its first frame.
    if (open_rc_ == SQLITE_OK) open_rc_ = Write(std::string(32, 'W'), 0);
  }
  ~WalFile() {
    if (file_->pMethods != nullptr) file_->pMethods->xClose(file_);
  }
  int open_rc() const { return open_rc_; }
  int Write(const std::string& bytes, int64_t offset) {
    return file_->pMethods->xWrite(file_, bytes.data(), static_cast<int>(bytes.size()), offset);
  }
  std::string Read(int64_t offset, int n) {
    std::string out(n, '\0');
    EXPECT_EQ(file_->pMethods->xRead(file_, out.data(), n, offset), SQLITE_OK);
    return out;
  }
  int64_t Size() {
    sqlite3_int64 size = -1;
    EXPECT_EQ(file_->pMethods->xFileSize(file_, &size), SQLITE_OK);
    return size;
  }
  int Sync() { return file_->pMethods->xSync(file_, SQLITE_SYNC_NORMAL); }
  // What is on disk now, read past the VFS.
  int64_t SizeOnDisk() const {
    FILE* f = fopen(path_.c_str(), "rb");
    if (f == nullptr) return -1;
    fseek(f, 0, SEEK_END);
    const int64_t size = ftell(f);
    fclose(f);
    return size;
  }

 private:
  sqlite3_vfs* vfs_ = nullptr;
  std::vector<char> memory_;
  sqlite3_file* file_ = nullptr;
  std::string path_;
  int open_rc_ = SQLITE_ERROR;
};

// Writes frame i (header then page), as SQLite does.
void WriteFrame(WalFile& wal, int i, bool commit, char fill) {
  ASSERT_EQ(wal.Write(Header(i + 2, commit ? 100 : 0), FrameOffset(i)), SQLITE_OK);
  ASSERT_EQ(wal.Write(Page(fill), FrameOffset(i) + 24), SQLITE_OK);
}

TEST(WalWriteGatherVfs, FramesAreWrittenOnceWithTheirCommitFrame) {
  TempDir dir;
  WalFile wal(kGatherVfs, dir.path() + "/a.db");
  ASSERT_EQ(wal.open_rc(), SQLITE_OK);
  const int before = wal_writes.load();
  for (int i = 0; i < 4; ++i) WriteFrame(wal, i, false, 'a' + i);
  EXPECT_EQ(wal_writes.load(), before);
  EXPECT_EQ(wal.SizeOnDisk(), 32);
  WriteFrame(wal, 4, true, 'e');
  EXPECT_EQ(wal_writes.load(), before + 1);
  EXPECT_EQ(wal.SizeOnDisk(), FrameOffset(5));
}

TEST(WalWriteGatherVfs, AReadSeesGatheredFrames) {
  TempDir dir;
  WalFile wal(kGatherVfs, dir.path() + "/a.db");
  ASSERT_EQ(wal.open_rc(), SQLITE_OK);
  WriteFrame(wal, 0, false, 'x');
  WriteFrame(wal, 1, false, 'y');
  EXPECT_EQ(wal.Read(FrameOffset(1) + 24, kPage), Page('y'));
  EXPECT_EQ(wal.Read(FrameOffset(0), 24), Header(2, 0));
  EXPECT_EQ(wal.SizeOnDisk(), FrameOffset(2));
}

TEST(WalWriteGatherVfs, TheFileSizeCountsGatheredFrames) {
  TempDir dir;
  WalFile wal(kGatherVfs, dir.path() + "/a.db");
  ASSERT_EQ(wal.open_rc(), SQLITE_OK);
  WriteFrame(wal, 0, false, 'x');
  EXPECT_EQ(wal.Size(), FrameOffset(1));
}

TEST(WalWriteGatherVfs, ASyncWritesGatheredFramesFirst) {
  TempDir dir;
  WalFile wal(kGatherVfs, dir.path() + "/a.db");
  ASSERT_EQ(wal.open_rc(), SQLITE_OK);
  WriteFrame(wal, 0, false, 'x');
  EXPECT_EQ(wal.SizeOnDisk(), 32);
  ASSERT_EQ(wal.Sync(), SQLITE_OK);
  EXPECT_EQ(wal.SizeOnDisk(), FrameOffset(1));
}

TEST(WalWriteGatherVfs, AWriteOutOfSequenceLandsAfterTheGatheredFrames) {
  TempDir dir;
  WalFile wal(kGatherVfs, dir.path() + "/a.db");
  ASSERT_EQ(wal.open_rc(), SQLITE_OK);
  WriteFrame(wal, 0, false, 'x');
  WriteFrame(wal, 1, false, 'y');
  const int before = wal_writes.load();
  // SQLite rewrites a page it already wrote in this transaction in place.
  ASSERT_EQ(wal.Write(Page('z'), FrameOffset(0) + 24), SQLITE_OK);
  EXPECT_EQ(wal_writes.load(), before + 2);  // the two frames, then the page
  EXPECT_EQ(wal.Read(FrameOffset(0) + 24, kPage), Page('z'));
  EXPECT_EQ(wal.Read(FrameOffset(1) + 24, kPage), Page('y'));
}

TEST(WalWriteGatherVfs, TheBoundWritesWhatIsGathered) {
  TempDir dir;
  WalFile wal(kSmallGatherVfs, dir.path() + "/a.db");  // three frames
  ASSERT_EQ(wal.open_rc(), SQLITE_OK);
  const int before = wal_writes.load();
  for (int i = 0; i < 3; ++i) WriteFrame(wal, i, false, 'a' + i);
  EXPECT_EQ(wal_writes.load(), before);
  WriteFrame(wal, 3, false, 'd');
  EXPECT_EQ(wal_writes.load(), before + 1);
  EXPECT_EQ(wal.SizeOnDisk(), FrameOffset(3));
  EXPECT_EQ(wal.Read(FrameOffset(3) + 24, kPage), Page('d'));
}

TEST(WalWriteGatherVfs, ACommitHeaderWithNothingGatheredIsWrittenAtOnce) {
  // SQLite's checksum rewrite writes headers in place, the commit's last,
  // with no page after it: it must not wait in the buffer.
  TempDir dir;
  WalFile wal(kGatherVfs, dir.path() + "/a.db");
  ASSERT_EQ(wal.open_rc(), SQLITE_OK);
  WriteFrame(wal, 0, true, 'x');
  const int before = wal_writes.load();
  ASSERT_EQ(wal.Write(Header(2, 7), FrameOffset(0)), SQLITE_OK);
  EXPECT_EQ(wal_writes.load(), before + 1);
}

// A database opened through `vfs` in WAL mode, synchronous=NORMAL, 4 KiB pages.
sqlite3* OpenDb(const std::string& path, const char* vfs) {
  RegisterVfss();
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db,
                         "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                         "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, b BLOB);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  return db;
}

int64_t Query(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  int64_t value = -1;
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  return value;
}

std::string QueryText(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  std::string value;
  if (sqlite3_step(stmt) == SQLITE_ROW) value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  return value;
}

void Exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
}

TEST(WalWriteGatherVfs, ATransactionOfManyPagesIsOneWriteAndAnotherConnectionSeesIt) {
  TempDir dir;
  const std::string path = dir.path() + "/a.db";
  sqlite3* writer = OpenDb(path, kGatherVfs);
  sqlite3* reader = OpenDb(path, nullptr);  // SQLite's own VFS, as the sqlite3 shell would be
  for (int round = 1; round <= 20; ++round) {
    const int before = wal_writes.load();
    Exec(writer, "BEGIN");
    for (int i = 0; i < 10; ++i) Exec(writer, "INSERT INTO t (b) VALUES (zeroblob(3000))");
    Exec(writer, "COMMIT");
    EXPECT_EQ(wal_writes.load(), before + 1) << "round " << round;
    EXPECT_EQ(Query(reader, "SELECT count(*) FROM t"), round * 10);
  }
  sqlite3_close(reader);
  sqlite3_close(writer);
}

TEST(WalWriteGatherVfs, ATransactionReadsBackPagesItSpilledBeforeItsCommit) {
  TempDir dir;
  const std::string path = dir.path() + "/a.db";
  sqlite3* writer = OpenDb(path, kGatherVfs);
  Exec(writer, "PRAGMA cache_size = 10");  // pages: the transaction below spills
  const int before = wal_writes.load();
  Exec(writer, "BEGIN");
  for (int i = 0; i < 200; ++i) Exec(writer, absl::StrCat("INSERT INTO t (b) VALUES (randomblob(3000 + ", i, "))"));
  EXPECT_EQ(Query(writer, "SELECT sum(length(b)) FROM t"), 200 * 3000 + 199 * 200 / 2);
  EXPECT_GT(wal_writes.load(), before);  // pages spilled before the commit were read back
  Exec(writer, "COMMIT");
  sqlite3* reader = OpenDb(path, nullptr);
  EXPECT_EQ(Query(reader, "SELECT count(*) FROM t"), 200);
  EXPECT_EQ(Query(reader, "SELECT sum(length(b)) FROM t"), 200 * 3000 + 199 * 200 / 2);
  EXPECT_EQ(QueryText(reader, "PRAGMA integrity_check"), "ok");
  sqlite3_close(reader);
  sqlite3_close(writer);
}

}  // namespace
}  // namespace muxchat::server
