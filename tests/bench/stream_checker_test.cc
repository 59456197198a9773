#include "bench/load/stream_checker.h"

#include <gtest/gtest.h>

namespace muxchat::bench {
namespace {

TEST(StreamChecker, InOrderStreamHasNothingMissing) {
  StreamChecker s;
  for (uint64_t i = 1; i <= 1000; ++i) EXPECT_EQ(s.Observe(i), StreamChecker::Verdict::kInOrder);
  EXPECT_EQ(s.unique(), 1000u);
  EXPECT_EQ(s.Missing(1000), 0u);
}

TEST(StreamChecker, CountsGapsAsMissing) {
  StreamChecker s;
  s.Observe(1);
  s.Observe(3);
  EXPECT_EQ(s.Missing(4), 2u);  // 2 and 4
}

TEST(StreamChecker, TellsDuplicatesFromReorderings) {
  StreamChecker s;
  s.Observe(1);
  s.Observe(3);
  EXPECT_EQ(s.Observe(2), StreamChecker::Verdict::kReordered);
  EXPECT_EQ(s.Observe(3), StreamChecker::Verdict::kDuplicate);
  EXPECT_EQ(s.duplicates(), 1u);
  EXPECT_EQ(s.reordered(), 1u);
  EXPECT_EQ(s.Missing(3), 0u);
}

TEST(StreamChecker, RejectsSequenceZero) {
  StreamChecker s;
  EXPECT_EQ(s.Observe(0), StreamChecker::Verdict::kInvalid);
  EXPECT_EQ(s.invalid(), 1u);
}

}  // namespace
}  // namespace muxchat::bench
