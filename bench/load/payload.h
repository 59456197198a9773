// The load generator's message payload: an ASCII header carrying the
// publisher's global index, its per-publisher sequence (1, 2, 3...) and the
// send time (CLOCK_MONOTONIC ns), padded with 'x' to the requested size. ASCII
// so that every target (muxchat text must be UTF-8, IRC lines are text) can
// carry it unchanged. Stateless functions; any thread.
#ifndef MUXCHAT_BENCH_LOAD_PAYLOAD_H_
#define MUXCHAT_BENCH_LOAD_PAYLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace muxchat::bench {

// 'M', 8 hex digits publisher, 16 hex digits sequence, 16 hex digits time.
inline constexpr size_t kPayloadHeaderBytes = 1 + 8 + 16 + 16;

struct PayloadStamp {
  uint32_t publisher = 0;
  uint64_t seq = 0;
  int64_t send_ns = 0;
};

// Overwrites `out` with a payload of max(size, kPayloadHeaderBytes) bytes.
void EncodePayload(const PayloadStamp& stamp, size_t size, std::string* out);

// False if `payload` does not start with a well-formed header.
bool DecodePayload(absl::string_view payload, PayloadStamp* stamp);

// CLOCK_MONOTONIC in nanoseconds.
int64_t MonotonicNanos();

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_PAYLOAD_H_
