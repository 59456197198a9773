#include "src/server/login_limiter.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// One judged attempt: Check must allow it, then it fails.
void FailOnce(LoginLimiter& l, absl::string_view account, absl::string_view address, absl::Time now) {
  ASSERT_EQ(l.Check(account, address, now), absl::ZeroDuration()) << account << " " << address;
  l.RecordFailure(account, address, now);
}

TEST(LoginLimiter, AllowsTheFreeFailuresThenBlocksForTheFirstBackoff) {
  LoginLimiter l;
  for (int i = 0; i < 4; ++i) FailOnce(l, "alice", "10.0.0.1:1000", kT0);
  EXPECT_EQ(l.Check("alice", "10.0.0.1:1000", kT0), absl::ZeroDuration());
  l.RecordFailure("alice", "10.0.0.1:1000", kT0);  // the 5th
  EXPECT_EQ(l.Check("alice", "10.0.0.1:1000", kT0), absl::Seconds(1));
  EXPECT_EQ(l.Check("alice", "10.0.0.1:1000", kT0 + absl::Milliseconds(400)), absl::Milliseconds(600));
}

TEST(LoginLimiter, BackoffDoublesWithEachFurtherFailureUpToTheCap) {
  LoginLimiter l;
  absl::Time now = kT0;
  for (int i = 0; i < 5; ++i) FailOnce(l, "alice", "10.0.0.1:1", now);
  absl::Duration expected = absl::Seconds(1);
  for (int i = 0; i < 14; ++i) {
    ASSERT_EQ(l.Check("alice", "10.0.0.1:1", now), expected) << i;
    now += expected;
    FailOnce(l, "alice", "10.0.0.1:1", now);
    expected = std::min(expected * 2, absl::Minutes(15));
  }
  EXPECT_EQ(l.Check("alice", "10.0.0.1:1", now), absl::Minutes(15));
}

TEST(LoginLimiter, AccountIsThrottledFromEveryAddress) {
  LoginLimiter l;
  for (int i = 0; i < 5; ++i) FailOnce(l, "alice", absl::StrCat("10.0.0.", i, ":1"), kT0);
  EXPECT_EQ(l.Check("alice", "192.0.2.9:5", kT0), absl::Seconds(1));
  EXPECT_EQ(l.Check("bob", "192.0.2.9:5", kT0), absl::ZeroDuration());
}

TEST(LoginLimiter, AccountNamesAreFolded) {
  LoginLimiter l;
  for (int i = 0; i < 5; ++i) FailOnce(l, i % 2 ? "ALICE" : "alice", absl::StrCat("10.0.0.", i, ":1"), kT0);
  EXPECT_GT(l.Check("Alice", "192.0.2.9:5", kT0), absl::ZeroDuration());
}

TEST(LoginLimiter, AddressIsThrottledAcrossNames) {
  LoginLimiter l;
  for (int i = 0; i < 20; ++i) FailOnce(l, absl::StrCat("user", i), absl::StrCat("10.0.0.1:", 1000 + i), kT0);
  EXPECT_EQ(l.Check("someone-new", "10.0.0.1:9999", kT0), absl::Seconds(1));
  EXPECT_EQ(l.Check("someone-new", "10.0.0.2:9999", kT0), absl::ZeroDuration());
}

TEST(LoginLimiter, Ipv6AddressesShareTheirSlash64) {
  LoginLimiter l;
  for (int i = 0; i < 20; ++i) {
    FailOnce(l, absl::StrCat("user", i), absl::StrCat("[2001:db8:1:2::", i + 1, "]:4000"), kT0);
  }
  EXPECT_GT(l.Check("other", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:1", kT0), absl::ZeroDuration());
  EXPECT_EQ(l.Check("other", "[2001:db8:1:3::1]:1", kT0), absl::ZeroDuration());
}

TEST(LoginLimiter, AddressKeyDropsThePortAndMasksIpv6) {
  EXPECT_EQ(LoginLimiter::AddressKey("127.0.0.1:5555"), "127.0.0.1");
  EXPECT_EQ(LoginLimiter::AddressKey("[::1]:5555"), "::/64");
  EXPECT_EQ(LoginLimiter::AddressKey("[2001:db8:aa:bb:1:2:3:4]:80"), "2001:db8:aa:bb::/64");
  EXPECT_EQ(LoginLimiter::AddressKey("[::ffff:192.0.2.7]:80"), "192.0.2.7");
  EXPECT_EQ(LoginLimiter::AddressKey("2001:db8::1"), "2001:db8::/64");
  EXPECT_EQ(LoginLimiter::AddressKey("test-peer"), "test-peer");
}

TEST(LoginLimiter, SuccessClearsTheAccountButNotTheAddress) {
  LoginLimiter l;
  for (int i = 0; i < 4; ++i) FailOnce(l, "alice", "10.0.0.1:1", kT0);
  for (int i = 0; i < 15; ++i) FailOnce(l, absl::StrCat("x", i), "10.0.0.1:1", kT0);
  ASSERT_EQ(l.Check("alice", "10.0.0.1:1", kT0), absl::ZeroDuration());
  l.RecordSuccess("alice", "10.0.0.1:1", kT0);
  // The account starts afresh: 4 more failures from elsewhere are still free.
  for (int i = 0; i < 4; ++i) FailOnce(l, "alice", "192.0.2.1:1", kT0);
  // The address kept its 19 failures: one more blocks it.
  FailOnce(l, "y", "10.0.0.1:1", kT0);
  EXPECT_GT(l.Check("z", "10.0.0.1:1", kT0), absl::ZeroDuration());
}

TEST(LoginLimiter, FailuresAreForgottenAfterAQuietHour) {
  LoginLimiter l;
  for (int i = 0; i < 4; ++i) FailOnce(l, "alice", "10.0.0.1:1", kT0);
  const absl::Time later = kT0 + absl::Hours(1);
  FailOnce(l, "alice", "10.0.0.1:1", later);  // counts as the first again
  EXPECT_EQ(l.Check("alice", "10.0.0.1:1", later), absl::ZeroDuration());
}

TEST(LoginLimiter, WaitingOutTheLongestBlockDoesNotResetTheCount) {
  LoginLimiter l;
  absl::Time now = kT0;
  for (int i = 0; i < 20; ++i) {
    const absl::Duration wait = l.Check("alice", "10.0.0.1:1", now);  // reserves when zero
    if (wait > absl::ZeroDuration()) {
      now += wait;
      ASSERT_EQ(l.Check("alice", "10.0.0.1:1", now), absl::ZeroDuration());
    }
    l.RecordFailure("alice", "10.0.0.1:1", now);
  }
  now += absl::Minutes(15);
  FailOnce(l, "alice", "10.0.0.1:1", now);
  EXPECT_EQ(l.Check("alice", "10.0.0.1:1", now), absl::Minutes(15));
}

TEST(LoginLimiter, ParallelAttemptsCannotAllPassBeforeTheFirstFailureLands) {
  LoginLimiter l;
  int allowed = 0;
  for (int i = 0; i < 100; ++i) {
    if (l.Check("alice", absl::StrCat("10.0.", i, ".1:1"), kT0) == absl::ZeroDuration()) ++allowed;
  }
  EXPECT_EQ(allowed, 5);
  EXPECT_EQ(l.Check("alice", "10.9.9.9:1", kT0), absl::Seconds(1));
}

TEST(LoginLimiter, AbandonedAttemptsNoLongerCountAsInFlight) {
  LoginLimiter l;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(l.Check("alice", "10.0.0.1:1", kT0), absl::ZeroDuration());
  EXPECT_GT(l.Check("alice", "10.0.0.1:1", kT0), absl::ZeroDuration());
  l.RecordAbandoned("alice", "10.0.0.1:1");
  EXPECT_EQ(l.Check("alice", "10.0.0.1:1", kT0), absl::ZeroDuration());
}

TEST(LoginLimiter, RefusedChecksRecordNothing) {
  LoginLimiter l;
  for (int i = 0; i < 5; ++i) FailOnce(l, "alice", "10.0.0.1:1", kT0);
  for (int i = 0; i < 1000; ++i) ASSERT_GT(l.Check("alice", "10.0.0.1:1", kT0), absl::ZeroDuration());
  // Still the first backoff: refusals did not count as failures.
  EXPECT_EQ(l.Check("alice", "10.0.0.1:1", kT0 + absl::Milliseconds(500)), absl::Milliseconds(500));
}

TEST(LoginLimiter, TrackedKeysNeverExceedTheBound) {
  LoginLimiterOptions options;
  options.max_keys = 1000;
  LoginLimiter l(options);
  for (int i = 0; i < 10000; ++i) {
    FailOnce(l, absl::StrCat("spray", i), absl::StrCat("10.", i / 256, ".", i % 256, ".1:1"), kT0);
    ASSERT_LE(l.tracked_keys(), 1000u);
  }
  EXPECT_EQ(l.tracked_keys(), 1000u);
}

TEST(LoginLimiter, EvictionForgetsTheLeastRecentlyUsedKeyFirst) {
  LoginLimiterOptions options;
  options.max_keys = 10;
  LoginLimiter l(options);
  for (int i = 0; i < 5; ++i) FailOnce(l, "victim", "10.0.0.1:1", kT0);  // 2 keys, victim blocked
  for (int i = 0; i < 7; ++i) FailOnce(l, absl::StrCat("n", i), "10.0.0.2:1", kT0);  // 8 more keys: full
  ASSERT_EQ(l.tracked_keys(), 10u);
  EXPECT_GT(l.Check("victim", "10.0.0.3:1", kT0), absl::ZeroDuration());
  // Three more names push the oldest keys out: the victim's first.
  for (int i = 7; i < 10; ++i) FailOnce(l, absl::StrCat("n", i), "10.0.0.2:1", kT0);
  EXPECT_EQ(l.tracked_keys(), 10u);
  EXPECT_EQ(l.Check("victim", "10.0.0.3:1", kT0), absl::ZeroDuration());
}

}  // namespace
}  // namespace muxchat::server
