#include "src/client/server_list.h"

#include <vector>

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

std::vector<ServerAddress> Three() {
  return {ServerAddress{"a", 7000}, ServerAddress{"b", 7001}, ServerAddress{"::1", 7002}};
}

// No jitter: every delay is the nominal one (0.5 s, 1 s, 2 s, ...).
ServerRotation Rotation(std::vector<ServerAddress> servers) {
  return ServerRotation(std::move(servers), ReconnectBackoff::Options{}, [] { return 0.5; });
}

TEST(ServerRotation, StartsAtTheFirstEntry) {
  ServerRotation r = Rotation(Three());
  EXPECT_EQ(r.current().host, "a");
}

TEST(ServerRotation, ALossMovesToTheNextEntryAfterTheFirstBackoffDelay) {
  ServerRotation r = Rotation(Three());
  EXPECT_EQ(r.Lost(), absl::Milliseconds(500));
  EXPECT_EQ(r.current().host, "b");
}

TEST(ServerRotation, FailuresTryTheRestOfThePassAtOnceThenBackOff) {
  ServerRotation r = Rotation(Three());
  r.Lost();                                       // a lost; b next
  EXPECT_EQ(r.Failed(), absl::ZeroDuration());    // b failed: ::1 at once
  EXPECT_EQ(r.current().host, "::1");
  EXPECT_EQ(r.Failed(), absl::ZeroDuration());    // ::1 failed: a at once
  EXPECT_EQ(r.current().host, "a");
  EXPECT_EQ(r.Failed(), absl::Seconds(1));        // the pass is over: backoff, doubled
  EXPECT_EQ(r.current().host, "b");
  EXPECT_EQ(r.Failed(), absl::ZeroDuration());
  EXPECT_EQ(r.Failed(), absl::ZeroDuration());
  EXPECT_EQ(r.Failed(), absl::Seconds(2));
}

TEST(ServerRotation, OneServerBacksOffBeforeEveryAttemptAsBefore) {
  ServerRotation r = Rotation({ServerAddress{"a", 7000}});
  EXPECT_EQ(r.Lost(), absl::Milliseconds(500));
  EXPECT_EQ(r.Failed(), absl::Seconds(1));
  EXPECT_EQ(r.Failed(), absl::Seconds(2));
  EXPECT_EQ(r.current().host, "a");
}

TEST(ServerRotation, AConnectionStartsTheNextLossFromTheFirstDelay) {
  ServerRotation r = Rotation(Three());
  r.Lost();
  r.Failed();
  r.Failed();
  r.Failed();  // a full pass: the backoff has grown
  r.Connected();
  EXPECT_EQ(r.Lost(), absl::Milliseconds(500));
}

TEST(ServerRotation, ALossAfterConnectingMidPassStartsAFullPass) {
  ServerRotation r = Rotation(Three());
  r.Lost();       // at b
  r.Failed();     // at ::1
  r.Connected();  // ::1 took us
  r.Lost();       // at a
  EXPECT_EQ(r.current().host, "a");
  EXPECT_EQ(r.Failed(), absl::ZeroDuration());  // b
  EXPECT_EQ(r.Failed(), absl::ZeroDuration());  // ::1
  EXPECT_EQ(r.Failed(), absl::Seconds(1));      // all three failed
}

}  // namespace
}  // namespace muxchat::client
