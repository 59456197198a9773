#include "bench/load/latency_histogram.h"

#include <gtest/gtest.h>

namespace muxchat::bench {
namespace {

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 50);
  EXPECT_EQ(h.Percentile(0.99), 99);
  EXPECT_EQ(h.Percentile(1.0), 100);
}

TEST(LatencyHistogram, LargeValuesWithinTwoPercent) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 100000; ++v) h.Record(v * 1000);  // 1 us .. 100 ms
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double want = q * 100000 * 1000;
    const double got = static_cast<double>(h.Percentile(q));
    EXPECT_GE(got, want * 0.999) << q;
    EXPECT_LE(got, want * 1.02) << q;
  }
  EXPECT_EQ(h.max(), 100000000);
}

TEST(LatencyHistogram, PercentilesAreMonotonic) {
  LatencyHistogram h;
  for (int64_t v = 0; v < 5000; ++v) h.Record((v * 7919) % 3000000);
  int64_t prev = 0;
  for (double q = 0.01; q < 1.0; q += 0.01) {
    const int64_t p = h.Percentile(q);
    EXPECT_GE(p, prev);
    prev = p;
  }
}

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(0.99), 0);
  EXPECT_EQ(h.count(), 0u);
}

}  // namespace
}  // namespace muxchat::bench
