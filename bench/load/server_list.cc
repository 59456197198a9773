#include "bench/load/server_list.h"

namespace muxchat::bench {

int PublisherServer(int room, int k, int publishers, int servers) {
  return (room * publishers + k) % servers;
}

int SubscriberServer(int room, int k, int publishers, int servers) {
  if (servers <= 1) return 0;
  return (PublisherServer(room, 0, publishers, servers) + 1 + k) % servers;
}

}  // namespace muxchat::bench
