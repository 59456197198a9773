#include "src/wire/host_port.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace muxchat::wire {
namespace {

TEST(ParseHostPortList, ReadsEntriesInOrderWithBracketedV6AndTheDefaultPort) {
  auto list = ParseHostPortList("a:7000,[::1]:7001,c", 7000);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(*list, (std::vector<HostPort>{{"a", 7000}, {"::1", 7001}, {"c", 7000}}));
}

TEST(ParseHostPortList, WithoutADefaultPortEveryEntryNeedsOne) {
  auto list = ParseHostPortList("127.0.0.1:7000,localhost:7001,[::1]:65535", std::nullopt);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(*list, (std::vector<HostPort>{{"127.0.0.1", 7000}, {"localhost", 7001}, {"::1", 65535}}));
  auto portless = ParseHostPortList("127.0.0.1:7000,b", std::nullopt);
  ASSERT_FALSE(portless.ok());
  EXPECT_NE(portless.status().message().find("'b'"), absl::string_view::npos) << portless.status();
  EXPECT_FALSE(ParseHostPortList("::1", std::nullopt).ok());
}

TEST(ParseHostPortList, RefusesAnEmptyListOrEntry) {
  for (std::optional<uint16_t> default_port : {std::optional<uint16_t>(7000), std::optional<uint16_t>()}) {
    EXPECT_FALSE(ParseHostPortList("", default_port).ok());
    EXPECT_FALSE(ParseHostPortList("a:1,", default_port).ok());
    EXPECT_FALSE(ParseHostPortList(",a:1", default_port).ok());
    EXPECT_FALSE(ParseHostPortList("a:1,,b:2", default_port).ok());
  }
}

TEST(ParseHostPortList, RefusesABadEntryNamingIt) {
  auto bad_port = ParseHostPortList("a:1,b:x", 7000);
  ASSERT_FALSE(bad_port.ok());
  EXPECT_NE(bad_port.status().message().find("'x'"), absl::string_view::npos) << bad_port.status();
  for (std::optional<uint16_t> default_port : {std::optional<uint16_t>(7000), std::optional<uint16_t>()}) {
    for (const char* bad : {"a:0", "a:65536", "a:70x", "[::1:7000", "[::1]7000", ":7000", "a:", "[]:7000"}) {
      EXPECT_FALSE(ParseHostPortList(bad, default_port).ok()) << bad;
    }
  }
}

TEST(ParseHostPortList, RefusesAServerListedTwice) {
  auto twice = ParseHostPortList("a:7000,b:1,a", 7000);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("a:7000 twice"), absl::string_view::npos) << twice.status();
}

TEST(SplitHostPort, ABareIpv6AddressIsAHostWithoutAPort) {
  std::string host;
  std::optional<uint16_t> port;
  ASSERT_TRUE(SplitHostPort("::1", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(port.has_value());
  ASSERT_TRUE(SplitHostPort("[::1]", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(port.has_value());
  ASSERT_TRUE(SplitHostPort("[::1]:9", &host, &port).ok());
  EXPECT_EQ(port, std::optional<uint16_t>(9));
}

TEST(ParsePort, AcceptsOneTo65535Only) {
  uint16_t port = 0;
  EXPECT_TRUE(ParsePort("1", &port).ok());
  EXPECT_EQ(port, 1);
  EXPECT_TRUE(ParsePort("65535", &port).ok());
  EXPECT_EQ(port, 65535);
  for (const char* bad : {"", "0", "65536", "-1", "7x", "0x10"}) EXPECT_FALSE(ParsePort(bad, &port).ok()) << bad;
}

TEST(HostPort, ToStringBracketsIpv6Literals) {
  EXPECT_EQ((HostPort{"127.0.0.1", 7000}).ToString(), "127.0.0.1:7000");
  EXPECT_EQ((HostPort{"chat.example", 7000}).ToString(), "chat.example:7000");
  EXPECT_EQ((HostPort{"::1", 7000}).ToString(), "[::1]:7000");
}

TEST(FormatHostPortList, IsReadBackAsTheSameList) {
  const std::vector<HostPort> list = {{"127.0.0.1", 7000}, {"localhost", 7001}, {"::1", 7002}};
  EXPECT_EQ(FormatHostPortList(list), "127.0.0.1:7000,localhost:7001,[::1]:7002");
  auto back = ParseHostPortList(FormatHostPortList(list), std::nullopt);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, list);
}

}  // namespace
}  // namespace muxchat::wire
