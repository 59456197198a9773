#include "bench/load/stream_checker.h"

namespace muxchat::bench {
namespace {
constexpr uint64_t kMaxSeq = uint64_t{1} << 32;  // bounds the bitmap (512 MiB worst case is never reached)
}  // namespace

StreamChecker::Verdict StreamChecker::Observe(uint64_t seq) {
  if (seq == 0 || seq > kMaxSeq) {
    ++invalid_;
    return Verdict::kInvalid;
  }
  const uint64_t bit = seq - 1;
  const size_t word = bit / 64;
  if (word >= seen_.size()) seen_.resize(word + 1 + seen_.size() / 2, 0);
  const uint64_t mask = uint64_t{1} << (bit % 64);
  if (seen_[word] & mask) {
    ++duplicates_;
    return Verdict::kDuplicate;
  }
  seen_[word] |= mask;
  ++unique_;
  if (seq < max_seen_) {
    ++reordered_;
    return Verdict::kReordered;
  }
  max_seen_ = seq;
  return Verdict::kInOrder;
}

uint64_t StreamChecker::Missing(uint64_t published) const {
  uint64_t have = 0;
  for (uint64_t s = 1; s <= published; ++s) {
    const uint64_t bit = s - 1;
    const size_t word = bit / 64;
    if (word < seen_.size() && (seen_[word] >> (bit % 64) & 1)) ++have;
  }
  return published - have;
}

}  // namespace muxchat::bench
