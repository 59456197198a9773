#include "bench/load/server_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace muxchat::bench {
namespace {

TEST(ServerList, ParsesSeveralHostPortPairs) {
  absl::StatusOr<std::vector<ServerAddress>> s = ParseServerList("127.0.0.1:7000,localhost:7001,10.0.0.2:65535");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].host, "127.0.0.1");
  EXPECT_EQ((*s)[0].port, 7000);
  EXPECT_EQ((*s)[1].host, "localhost");
  EXPECT_EQ((*s)[2].port, 65535);
  EXPECT_EQ(FormatServerList(*s), "127.0.0.1:7000,localhost:7001,10.0.0.2:65535");
}

TEST(ServerList, RejectsItemsThatAreNotHostPort) {
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":7000", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:70x", "127.0.0.1:7000,", "127.0.0.1:7000,,127.0.0.1:7001"}) {
    EXPECT_FALSE(ParseServerList(bad).ok()) << bad;
  }
}

TEST(ServerList, OneServerTakesEveryConnection) {
  for (int room = 0; room < 4; ++room) {
    for (int k = 0; k < 5; ++k) {
      EXPECT_EQ(PublisherServer(room, k, 5, 1), 0);
      EXPECT_EQ(SubscriberServer(room, k, 5, 1), 0);
    }
  }
}

TEST(ServerList, ARoomsFirstSubscriberIsOnAnotherNodeThanItsFirstPublisher) {
  for (int servers = 2; servers <= 4; ++servers) {
    for (int room = 0; room < 10; ++room) {
      EXPECT_NE(SubscriberServer(room, 0, 1, servers), PublisherServer(room, 0, 1, servers))
          << servers << " servers, room " << room;
    }
  }
}

TEST(ServerList, SubscribersOfARoomAreSpreadEvenly) {
  const int servers = 3;
  for (int subscribers : {1, 2, 3, 10, 100}) {
    std::vector<int> per(servers, 0);
    for (int k = 0; k < subscribers; ++k) ++per[SubscriberServer(2, k, 1, servers)];
    const auto [lo, hi] = std::minmax_element(per.begin(), per.end());
    EXPECT_LE(*hi - *lo, 1) << subscribers << " subscribers";
  }
}

TEST(ServerList, PublishersOfManyRoomsAreSpreadEvenly) {
  const int servers = 3;
  std::vector<int> per(servers, 0);
  for (int room = 0; room < 64; ++room) ++per[PublisherServer(room, 0, 1, servers)];
  const auto [lo, hi] = std::minmax_element(per.begin(), per.end());
  EXPECT_LE(*hi - *lo, 1);
}

}  // namespace
}  // namespace muxchat::bench
