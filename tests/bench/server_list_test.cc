#include "bench/load/server_list.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace muxchat::bench {
namespace {

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
