// Who may scrape /metrics: the --metrics=off|loopback|on rule. Metrics tell
// an outsider how busy the server is and which errors it sees, so by default
// only the same host may read them (a local Prometheus or an SSH tunnel).
// Pure functions; any thread.
#ifndef MUXCHAT_SERVER_METRICS_ACCESS_H_
#define MUXCHAT_SERVER_METRICS_ACCESS_H_

#include <sys/socket.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace muxchat::server {

enum class MetricsAccess {
  kOff,       // /metrics is not served (404)
  kLoopback,  // served to peers on 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104; 403 for others
  kOn,        // served to any peer
};

// Parses the flag value: "off", "loopback" or "on".
absl::StatusOr<MetricsAccess> ParseMetricsAccess(absl::string_view text);
const char* MetricsAccessName(MetricsAccess access);

// True if `peer` is a loopback address (IPv4, IPv6, or IPv4-mapped IPv6).
bool IsLoopbackPeer(const sockaddr* peer, socklen_t len);

// Whether a scrape from `peer` may be answered with the metrics.
bool MetricsScrapeAllowed(MetricsAccess access, const sockaddr* peer, socklen_t len);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_METRICS_ACCESS_H_
