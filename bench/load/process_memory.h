// Memory of another process as the kernel reports it, read from
// /proc/PID/status (VmRSS, RssAnon, VmData) and /proc/PID/smaps_rollup
// (Private_Dirty, Anonymous): user-space memory only; socket buffers are
// kernel memory and appear in none of these. Stateless; any thread.
#ifndef MUXCHAT_BENCH_LOAD_PROCESS_MEMORY_H_
#define MUXCHAT_BENCH_LOAD_PROCESS_MEMORY_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace muxchat::bench {

// All in bytes; -1 where the kernel did not report the field.
struct ProcessMemory {
  int64_t vm_rss = -1;         // status: resident, file-backed pages included
  int64_t rss_anon = -1;       // status: resident anonymous pages (heap, stacks)
  int64_t vm_data = -1;        // status: data + heap + anonymous mappings, resident or not
  int64_t private_dirty = -1;  // smaps_rollup: pages written by this process only
  int64_t anonymous = -1;      // smaps_rollup: anonymous pages
  int64_t open_fds = -1;       // entries in /proc/PID/fd
};

// Parses the "Name:  N kB" lines of a status or smaps_rollup text into `m`
// (fields it does not know are ignored). Exposed for tests.
void ParseProcMemoryText(absl::string_view text, ProcessMemory* m);

// Reads both files (and counts /proc/PID/fd). NotFound if the process is gone.
absl::StatusOr<ProcessMemory> ReadProcessMemory(pid_t pid);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_PROCESS_MEMORY_H_
