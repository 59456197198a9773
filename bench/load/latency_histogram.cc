#include "bench/load/latency_histogram.h"

namespace muxchat::bench {

// Index layout: [0, 128) exact; a larger v with highest bit b >= 7 has
// shift = b - 6 >= 1 and sub = v >> shift in [64, 128), and goes to
// (shift << 6) + sub, i.e. 64 sub-buckets per octave, contiguous after 127.
int LatencyHistogram::Index(uint64_t v) {
  if (v < (1u << (kSubBits + 1))) return static_cast<int>(v);
  const int b = 63 - __builtin_clzll(v);  // >= 7
  const int shift = b - kSubBits;          // >= 1
  const int sub = static_cast<int>(v >> shift);  // 64..127
  return (shift << kSubBits) + sub;             // >= 128
}

int64_t LatencyHistogram::UpperEdge(int index) {
  if (index < (1 << (kSubBits + 1))) return index;
  const int shift = (index >> kSubBits) - 1;
  const int sub = (index & ((1 << kSubBits) - 1)) + (1 << kSubBits);
  // Bucket covers [sub << shift, (sub + 1) << shift).
  return static_cast<int64_t>(((static_cast<uint64_t>(sub) + 1) << shift) - 1);
}

void LatencyHistogram::Record(int64_t value_ns) {
  if (value_ns < 0) value_ns = 0;
  const int i = Index(static_cast<uint64_t>(value_ns));
  if (i < kBuckets) ++counts_[i];
  ++count_;
  sum_ += value_ns;
  if (value_ns > max_) max_ = value_ns;
  if (value_ns < min_) min_ = value_ns;
}

int64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  if (q >= 1.0) return max_;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(count_) + 0.999999);
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const int64_t edge = UpperEdge(i);
      return edge < max_ ? edge : max_;
    }
  }
  return max_;
}

}  // namespace muxchat::bench
