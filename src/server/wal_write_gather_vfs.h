// A SQLite VFS over another (the default "unix") that gathers the frames a
// transaction appends to the -wal file into one buffer and writes them with
// one call (per 124 KiB) when the commit frame is complete, instead of two
// pwrite64 calls per frame (its 24-byte header, then its page). Every other
// file (the database, its -shm, journals) is the base VFS's own object, with
// no extra call in between.
//
// Why: at 1 KiB x 10 subscribers the storage writer made ~24 pwrite64 per
// commit, a sixth of durable muxchatd's CPU (docs/BENCHMARKS.md §9.2.4-9.2.5).
//
// What makes it safe: another connection sees a commit only once SQLite has
// published the wal-index header, which it does after the last frame's write
// returns; that write (the page after a header whose "database size" field is
// set, the WAL format's commit mark) flushes the buffer, and its error is the
// commit's. Anything else on the -wal file (a read, sync, truncate, size,
// lock, file control, close, a write that does not follow the buffer, or a
// buffer reaching its bound) flushes first, so the same connection reads its
// own frames back. Nothing is fsynced that was not before.
//
// Thread rule: register before opening a connection with it; a file object is
// used by its connection's thread only (as SQLite's own are).
#ifndef MUXCHAT_SERVER_WAL_WRITE_GATHER_VFS_H_
#define MUXCHAT_SERVER_WAL_WRITE_GATHER_VFS_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"

namespace muxchat::server {

// The VFS the storage opens its connections with.
inline constexpr char kWalWriteGatherVfsName[] = "muxchat-wal-gather";

// At most this many bytes are gathered before they are written (127 frames
// of 8 KiB pages; a larger transaction goes out in parts of this size). Each
// part is written in calls of at most 124 KiB (the unix VFS takes at most
// 128 KiB - 1 per call), so a 64-message commit of 1 KiB texts (~12 frames)
// is one call.
inline constexpr size_t kWalWriteGatherBytes = 1 << 20;

// Registers a VFS called `name` over the VFS called `base_name` (the default
// VFS if empty), gathering up to `buffer_bytes` per -wal file. Registering a
// name again is a no-op (the first registration's settings stay).
// kNotFound if there is no such base VFS. The VFS lives until the process ends.
absl::Status RegisterWalWriteGatherVfs(const std::string& name, const std::string& base_name,
                                       size_t buffer_bytes);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_WAL_WRITE_GATHER_VFS_H_
