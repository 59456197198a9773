// An HDR-style latency histogram: values below 128 ns are counted exactly,
// larger ones in 64 linear sub-buckets per power of two (relative error under
// 1.6%). Fixed memory, O(1) record; percentiles report the bucket's upper
// edge. Single-threaded.
#ifndef MUXCHAT_BENCH_LOAD_LATENCY_HISTOGRAM_H_
#define MUXCHAT_BENCH_LOAD_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstdint>

namespace muxchat::bench {

class LatencyHistogram {
 public:
  void Record(int64_t value_ns);
  uint64_t count() const { return count_; }
  int64_t max() const { return max_; }
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  // The smallest recorded bucket value v such that at least q (0..1) of all
  // samples are <= v. 0 when empty. q >= 1 gives max().
  int64_t Percentile(double q) const;

 private:
  static constexpr int kSubBits = 6;                      // 64 sub-buckets
  static constexpr int kBuckets = (64 - kSubBits + 1) << kSubBits;
  static int Index(uint64_t v);
  static int64_t UpperEdge(int index);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  int64_t max_ = 0;
  int64_t min_ = INT64_MAX;
  __int128 sum_ = 0;
};

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_LATENCY_HISTOGRAM_H_
