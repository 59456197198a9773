// Checks one (publisher -> subscriber) stream for exactly-once, in-order
// delivery of sequences 1, 2, 3...: a bitmap of sequences seen, so losses,
// duplicates and reorderings are told apart. Single-threaded; one per stream.
#ifndef MUXCHAT_BENCH_LOAD_STREAM_CHECKER_H_
#define MUXCHAT_BENCH_LOAD_STREAM_CHECKER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace muxchat::bench {

class StreamChecker {
 public:
  enum class Verdict { kInOrder, kReordered, kDuplicate, kInvalid };

  Verdict Observe(uint64_t seq);

  uint64_t unique() const { return unique_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t reordered() const { return reordered_; }
  uint64_t invalid() const { return invalid_; }
  uint64_t max_seen() const { return max_seen_; }
  // Sequences in 1..published never seen.
  uint64_t Missing(uint64_t published) const;

 private:
  std::vector<uint64_t> seen_;  // bit (seq - 1)
  uint64_t max_seen_ = 0;
  uint64_t unique_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t reordered_ = 0;
  uint64_t invalid_ = 0;
};

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_STREAM_CHECKER_H_
