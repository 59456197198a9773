#include "bench/load/server_list.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace muxchat::bench {

absl::StatusOr<std::vector<ServerAddress>> ParseServerList(absl::string_view list) {
  std::vector<ServerAddress> out;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    const size_t colon = item.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || colon == 0 || !absl::SimpleAtoi(item.substr(colon + 1), &port) ||
        port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("server '", item, "' is not HOST:PORT (port 1..65535)"));
    }
    out.push_back({std::string(item.substr(0, colon)), port});
  }
  return out;
}

std::string FormatServerList(const std::vector<ServerAddress>& servers) {
  return absl::StrJoin(servers, ",", [](std::string* out, const ServerAddress& s) {
    absl::StrAppend(out, s.host, ":", s.port);
  });
}

int PublisherServer(int room, int k, int publishers, int servers) {
  return (room * publishers + k) % servers;
}

int SubscriberServer(int room, int k, int publishers, int servers) {
  if (servers <= 1) return 0;
  return (PublisherServer(room, 0, publishers, servers) + 1 + k) % servers;
}

}  // namespace muxchat::bench
