#include "src/server/metrics_access.h"

#include <netinet/in.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace muxchat::server {

absl::StatusOr<MetricsAccess> ParseMetricsAccess(absl::string_view text) {
  if (text == "off") return MetricsAccess::kOff;
  if (text == "loopback") return MetricsAccess::kLoopback;
  if (text == "on") return MetricsAccess::kOn;
  return absl::InvalidArgumentError(absl::StrCat("--metrics must be off, loopback or on, not '", text, "'"));
}

const char* MetricsAccessName(MetricsAccess access) {
  switch (access) {
    case MetricsAccess::kOff: return "off";
    case MetricsAccess::kLoopback: return "loopback";
    case MetricsAccess::kOn: return "on";
  }
  return "off";
}

bool IsLoopbackPeer(const sockaddr* peer, socklen_t len) {
  if (peer == nullptr) return false;
  if (peer->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in;
    std::memcpy(&in, peer, sizeof in);
    return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
  }
  if (peer->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6;
    std::memcpy(&in6, peer, sizeof in6);
    const unsigned char* a = in6.sin6_addr.s6_addr;
    static constexpr unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, kLoopback, 16) == 0) return true;
    return std::memcmp(a, kMappedPrefix, 12) == 0 && a[12] == 127;
  }
  return false;  // AF_UNIX and anything else: not a network peer we vouch for
}

bool MetricsScrapeAllowed(MetricsAccess access, const sockaddr* peer, socklen_t len) {
  switch (access) {
    case MetricsAccess::kOff: return false;
    case MetricsAccess::kLoopback: return IsLoopbackPeer(peer, len);
    case MetricsAccess::kOn: return true;
  }
  return false;
}

}  // namespace muxchat::server
