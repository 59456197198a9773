#include "src/server/metrics_access.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <string>

#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

sockaddr_storage V4(const char* ip) {
  sockaddr_storage ss{};
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  in->sin_family = AF_INET;
  in->sin_port = htons(7000);
  EXPECT_EQ(inet_pton(AF_INET, ip, &in->sin_addr), 1) << ip;
  return ss;
}

sockaddr_storage V6(const char* ip) {
  sockaddr_storage ss{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(7000);
  EXPECT_EQ(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1) << ip;
  return ss;
}

bool Allowed(MetricsAccess access, const sockaddr_storage& ss) {
  return MetricsScrapeAllowed(access, reinterpret_cast<const sockaddr*>(&ss), sizeof ss);
}

TEST(MetricsAccess, LoopbackAllowsEveryLoopbackAddress) {
  for (const sockaddr_storage& ss : {V4("127.0.0.1"), V4("127.255.0.9"), V6("::1"), V6("::ffff:127.0.0.1")}) {
    EXPECT_TRUE(Allowed(MetricsAccess::kLoopback, ss));
  }
}

TEST(MetricsAccess, LoopbackRefusesOtherPeers) {
  for (const sockaddr_storage& ss : {V4("10.0.0.1"), V4("128.0.0.1"), V4("0.0.0.0"), V6("::2"), V6("fe80::1"),
                                     V6("::ffff:10.0.0.1"), V6("::127.0.0.1"), V6("2001:db8::1")}) {
    EXPECT_FALSE(Allowed(MetricsAccess::kLoopback, ss));
  }
}

TEST(MetricsAccess, OnAllowsAnyPeer) {
  EXPECT_TRUE(Allowed(MetricsAccess::kOn, V4("203.0.113.5")));
  EXPECT_TRUE(Allowed(MetricsAccess::kOn, V6("2001:db8::1")));
}

TEST(MetricsAccess, OffAllowsNobodyNotEvenLoopback) {
  EXPECT_FALSE(Allowed(MetricsAccess::kOff, V4("127.0.0.1")));
  EXPECT_FALSE(Allowed(MetricsAccess::kOff, V6("::1")));
}

TEST(MetricsAccess, ATruncatedOrForeignAddressIsNotLoopback) {
  const sockaddr_storage v4 = V4("127.0.0.1");
  EXPECT_FALSE(IsLoopbackPeer(reinterpret_cast<const sockaddr*>(&v4), 4));
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(IsLoopbackPeer(reinterpret_cast<const sockaddr*>(&un), sizeof un));
  EXPECT_FALSE(IsLoopbackPeer(nullptr, 0));
}

TEST(MetricsAccess, ParsesTheThreeFlagValuesAndNothingElse) {
  EXPECT_EQ(*ParseMetricsAccess("off"), MetricsAccess::kOff);
  EXPECT_EQ(*ParseMetricsAccess("loopback"), MetricsAccess::kLoopback);
  EXPECT_EQ(*ParseMetricsAccess("on"), MetricsAccess::kOn);
  for (const char* bad : {"", "ON", "yes", "127.0.0.1"}) {
    EXPECT_EQ(ParseMetricsAccess(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_STREQ(MetricsAccessName(MetricsAccess::kLoopback), "loopback");
}

}  // namespace
}  // namespace muxchat::server
