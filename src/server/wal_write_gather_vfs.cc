#include "src/server/wal_write_gather_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace muxchat::server {
namespace {

// The WAL file format (https://sqlite.org/fileformat2.html#walformat): a
// 32-byte header, then frames of a 24-byte header and one page. A frame
// header's bytes 4..7 hold the database size in pages for the last frame of a
// commit and zero for every other frame.
constexpr int kWalHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;
// The unix VFS writes at most 128 KiB - 1 bytes per xWrite (os_unix.c
// seekAndWriteFd masks the length with 0x1ffff; more comes back as a short
// write, SQLITE_FULL): a larger buffer goes out in pieces of this size.
constexpr size_t kMaxWriteBytes = 124 << 10;

// One registered VFS: SQLite keeps a pointer to `vfs`, so it is never freed.
struct GatherVfs {
  sqlite3_vfs vfs;  // first: SQLite passes &vfs, cast back to GatherVfs
  sqlite3_vfs* base;
  size_t buffer_bytes;
  std::string name;
};

// A -wal file as SQLite sees it. `real` is the base VFS's file object, placed
// in the same allocation right after this struct (szOsFile covers both).
struct GatherFile {
  sqlite3_file file;  // first: SQLite's handle; pMethods = &kGatherMethods
  sqlite3_file* real;
  size_t bound;
  unsigned char* buffer;      // `bound` bytes, allocated on the first gathered write
  size_t length;              // bytes gathered, written at `start` by Flush
  sqlite3_int64 start;
  bool flush_after_next;      // the buffer ends with a commit frame's header
};

constexpr size_t kRealOffset = (sizeof(GatherFile) + 7) & ~size_t{7};

GatherVfs* VfsOf(sqlite3_vfs* vfs) { return reinterpret_cast<GatherVfs*>(vfs); }
GatherFile* FileOf(sqlite3_file* file) { return reinterpret_cast<GatherFile*>(file); }

uint32_t Get32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

bool IsFrameHeader(int amount, sqlite3_int64 offset) {
  return amount == kFrameHeaderBytes && offset >= kWalHeaderBytes;
}

bool IsCommitMark(const void* header) { return Get32(static_cast<const unsigned char*>(header) + 4) != 0; }

// Writes what is gathered (one call up to kMaxWriteBytes); the buffer is
// empty afterwards even on failure (the transaction that wrote it fails
// with the error).
int Flush(GatherFile* f) {
  f->flush_after_next = false;
  int rc = SQLITE_OK;
  for (size_t done = 0; done < f->length && rc == SQLITE_OK;) {
    const size_t n = std::min(f->length - done, kMaxWriteBytes);
    rc = f->real->pMethods->xWrite(f->real, f->buffer + done, static_cast<int>(n),
                                   f->start + static_cast<sqlite3_int64>(done));
    done += n;
  }
  f->length = 0;
  return rc;
}

int GatherClose(sqlite3_file* file) {
  GatherFile* f = FileOf(file);
  const int flushed = Flush(f);
  const int closed = f->real->pMethods->xClose(f->real);
  std::free(f->buffer);
  f->buffer = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

int GatherRead(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  GatherFile* f = FileOf(file);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xRead(f->real, out, amount, offset);
}

int GatherWrite(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  GatherFile* f = FileOf(file);
  const size_t n = static_cast<size_t>(amount);
  const bool follows = f->length > 0 && offset == f->start + static_cast<sqlite3_int64>(f->length);
  if (follows && f->length + n <= f->bound) {
    const bool flush_now = f->flush_after_next;
    std::memcpy(f->buffer + f->length, data, n);
    f->length += n;
    if (IsFrameHeader(amount, offset) && IsCommitMark(data)) f->flush_after_next = true;
    return flush_now ? Flush(f) : SQLITE_OK;
  }
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  // A gather starts only at a frame header that is not a commit's: a commit
  // of one frame gains nothing, and a header rewritten in place (SQLite's
  // checksum rewrite) is followed by no page, so it would wait in the buffer.
  if (!IsFrameHeader(amount, offset) || IsCommitMark(data) || n > f->bound) {
    return f->real->pMethods->xWrite(f->real, data, amount, offset);
  }
  if (f->buffer == nullptr) {
    f->buffer = static_cast<unsigned char*>(std::malloc(f->bound));
    if (f->buffer == nullptr) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  }
  std::memcpy(f->buffer, data, n);
  f->length = n;
  f->start = offset;
  return SQLITE_OK;
}

int GatherTruncate(sqlite3_file* file, sqlite3_int64 size) {
  GatherFile* f = FileOf(file);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}

int GatherSync(sqlite3_file* file, int flags) {
  GatherFile* f = FileOf(file);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xSync(f->real, flags);
}

int GatherFileSize(sqlite3_file* file, sqlite3_int64* size) {
  GatherFile* f = FileOf(file);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int GatherLock(sqlite3_file* file, int level) {
  GatherFile* f = FileOf(file);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xLock(f->real, level);
}

int GatherUnlock(sqlite3_file* file, int level) {
  GatherFile* f = FileOf(file);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xUnlock(f->real, level);
}

int GatherCheckReservedLock(sqlite3_file* file, int* out) {
  GatherFile* f = FileOf(file);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xCheckReservedLock(f->real, out);
}

int GatherFileControl(sqlite3_file* file, int op, void* arg) {
  GatherFile* f = FileOf(file);
  if (const int rc = Flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}

int GatherSectorSize(sqlite3_file* file) {
  GatherFile* f = FileOf(file);
  return f->real->pMethods->xSectorSize(f->real);
}

int GatherDeviceCharacteristics(sqlite3_file* file) {
  GatherFile* f = FileOf(file);
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}

// Version 1: SQLite maps shared memory and pages through the database
// file's methods only, never the -wal file's.
const sqlite3_io_methods kGatherMethods = {
    1,
    GatherClose,
    GatherRead,
    GatherWrite,
    GatherTruncate,
    GatherSync,
    GatherFileSize,
    GatherLock,
    GatherUnlock,
    GatherCheckReservedLock,
    GatherFileControl,
    GatherSectorSize,
    GatherDeviceCharacteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

int VfsOpen(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  GatherVfs* g = VfsOf(vfs);
  // Any other file is the base VFS's object itself, in the same memory.
  if ((flags & SQLITE_OPEN_WAL) == 0) return g->base->xOpen(g->base, name, file, flags, out_flags);
  GatherFile* f = FileOf(file);
  f->file.pMethods = nullptr;  // until the real file is open (SQLite checks it after a failure)
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->real->pMethods = nullptr;
  const int rc = g->base->xOpen(g->base, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
    return rc;
  }
  f->bound = g->buffer_bytes;
  f->buffer = nullptr;
  f->length = 0;
  f->start = 0;
  f->flush_after_next = false;
  f->file.pMethods = &kGatherMethods;
  return SQLITE_OK;
}

// The rest of the VFS is the base's, called with the base's own object.
int VfsDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  return b->xDelete(b, name, sync_dir);
}
int VfsAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  return b->xAccess(b, name, flags, out);
}
int VfsFullPathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  return b->xFullPathname(b, name, size, out);
}
void* VfsDlOpen(sqlite3_vfs* vfs, const char* name) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  return b->xDlOpen(b, name);
}
void VfsDlError(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  b->xDlError(b, size, out);
}
void (*VfsDlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  return b->xDlSym(b, handle, symbol);
}
void VfsDlClose(sqlite3_vfs* vfs, void* handle) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  b->xDlClose(b, handle);
}
int VfsRandomness(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  return b->xRandomness(b, size, out);
}
int VfsSleep(sqlite3_vfs* vfs, int micros) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  return b->xSleep(b, micros);
}
int VfsCurrentTime(sqlite3_vfs* vfs, double* out) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  return b->xCurrentTime(b, out);
}
int VfsGetLastError(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  return b->xGetLastError != nullptr ? b->xGetLastError(b, size, out) : 0;
}
int VfsCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  sqlite3_vfs* b = VfsOf(vfs)->base;
  if (b->iVersion >= 2 && b->xCurrentTimeInt64 != nullptr) return b->xCurrentTimeInt64(b, out);
  double days = 0;
  const int rc = b->xCurrentTime(b, &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

std::mutex registry_mu;

}  // namespace

absl::Status RegisterWalWriteGatherVfs(const std::string& name, const std::string& base_name,
                                       size_t buffer_bytes) {
  std::lock_guard<std::mutex> lock(registry_mu);
  if (sqlite3_vfs_find(name.c_str()) != nullptr) return absl::OkStatus();
  sqlite3_vfs* base = sqlite3_vfs_find(base_name.empty() ? nullptr : base_name.c_str());
  if (base == nullptr) return absl::NotFoundError(absl::StrCat("no SQLite VFS called '", base_name, "'"));
  auto* g = new GatherVfs();  // never freed: SQLite keeps the pointer
  g->base = base;
  g->buffer_bytes = buffer_bytes;
  g->name = name;
  sqlite3_vfs& v = g->vfs;
  v.iVersion = 2;
  v.szOsFile = static_cast<int>(kRealOffset) + base->szOsFile;
  v.mxPathname = base->mxPathname;
  v.zName = g->name.c_str();
  v.xOpen = VfsOpen;
  v.xDelete = VfsDelete;
  v.xAccess = VfsAccess;
  v.xFullPathname = VfsFullPathname;
  v.xDlOpen = VfsDlOpen;
  v.xDlError = VfsDlError;
  v.xDlSym = VfsDlSym;
  v.xDlClose = VfsDlClose;
  v.xRandomness = VfsRandomness;
  v.xSleep = VfsSleep;
  v.xCurrentTime = VfsCurrentTime;
  v.xGetLastError = VfsGetLastError;
  v.xCurrentTimeInt64 = VfsCurrentTimeInt64;
  const int rc = sqlite3_vfs_register(&g->vfs, /*makeDflt=*/0);
  if (rc != SQLITE_OK) {
    delete g;
    return absl::InternalError(absl::StrCat("registering SQLite VFS '", name, "': ", sqlite3_errstr(rc)));
  }
  return absl::OkStatus();
}

}  // namespace muxchat::server
