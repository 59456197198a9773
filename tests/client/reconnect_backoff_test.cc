#include "src/client/reconnect_backoff.h"

#include <vector>

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

ReconnectBackoff::Options Defaults() { return ReconnectBackoff::Options(); }

TEST(ReconnectBackoff, WithoutJitterDoublesFromHalfASecondUpToThirtySeconds) {
  ReconnectBackoff b(Defaults(), [] { return 0.5; });  // 0.5 = the nominal delay exactly
  std::vector<absl::Duration> got;
  for (int i = 0; i < 9; ++i) got.push_back(b.Next());
  const std::vector<absl::Duration> want = {
      absl::Milliseconds(500), absl::Seconds(1),  absl::Seconds(2),  absl::Seconds(4),  absl::Seconds(8),
      absl::Seconds(16),       absl::Seconds(30), absl::Seconds(30), absl::Seconds(30)};
  EXPECT_EQ(got, want);
}

TEST(ReconnectBackoff, JitterSpansAQuarterEitherSide) {
  ReconnectBackoff low(Defaults(), [] { return 0.0; });
  ReconnectBackoff high(Defaults(), [] { return 0.999999; });
  EXPECT_EQ(low.Next(), absl::Milliseconds(375));
  EXPECT_NEAR(absl::ToDoubleMilliseconds(high.Next()), 625.0, 0.01);
  EXPECT_EQ(low.Next(), absl::Milliseconds(750));
}

TEST(ReconnectBackoff, ResetStartsAgainFromTheFirstDelay) {
  ReconnectBackoff b(Defaults(), [] { return 0.5; });
  b.Next();
  b.Next();
  b.Next();
  b.Reset();
  EXPECT_EQ(b.Next(), absl::Milliseconds(500));
}

TEST(ReconnectBackoff, DefaultRandomnessStaysWithinTheJitterBounds) {
  ReconnectBackoff b(Defaults());
  for (int i = 0; i < 20; ++i) {
    const absl::Duration nominal = i < 6 ? absl::Milliseconds(500) * (1 << i) : absl::Seconds(30);
    const absl::Duration d = b.Next();
    EXPECT_GE(d, nominal * 0.75);
    EXPECT_LE(d, nominal * 1.25);
  }
}

}  // namespace
}  // namespace muxchat::client
