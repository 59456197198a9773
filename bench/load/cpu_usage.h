// CPU time consumed so far by this process (getrusage) and by another process
// (/proc/PID/stat utime + stime), in seconds. Stateless; any thread.
#ifndef MUXCHAT_BENCH_LOAD_CPU_USAGE_H_
#define MUXCHAT_BENCH_LOAD_CPU_USAGE_H_

#include <sys/types.h>

#include "absl/status/statusor.h"

namespace muxchat::bench {

double SelfCpuSeconds();
absl::StatusOr<double> ProcessCpuSeconds(pid_t pid);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_CPU_USAGE_H_
