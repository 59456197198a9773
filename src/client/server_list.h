// ServerList: the servers a CLI run may use (`--server a:7000,b:7000`, or the
// one positional HOST:PORT) and ServerRotation, which says which of them to
// try next and how long to wait first: in list order, round robin after a
// lost connection, today's ReconnectBackoff only between full passes over
// the list (so a dead node costs one failed connect, not a backoff delay).
//
// Thread rule: pure functions, safe from any thread; a ServerRotation has one
// owner (not thread-safe). The randomness of the backoff is injected.
#ifndef MUXCHAT_CLIENT_SERVER_LIST_H_
#define MUXCHAT_CLIENT_SERVER_LIST_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/client/reconnect_backoff.h"

namespace muxchat::client {

struct ServerAddress {
  std::string host;    // a name or an address; IPv6 literals without brackets
  uint16_t port = 0;

  // "host:port", "[v6]:port": how messages name it, and the token file's key.
  std::string Key() const;
  bool operator==(const ServerAddress& o) const { return host == o.host && port == o.port; }
};

// "1".."65535" into `*port`; kInvalidArgument naming the text otherwise.
absl::Status ParsePort(absl::string_view text, uint16_t* port);

// Splits "host", "host:port", "[v6]:port" or "[v6]"; a bare IPv6 address (two
// or more colons, no brackets) is a host alone. `*port` is left unset when
// the text gives none. kInvalidArgument with a one-line reason.
absl::Status SplitHostPort(absl::string_view text, std::string* host, std::optional<uint16_t>* port);

// A comma-separated list of addresses as SplitHostPort reads them (an entry
// without a port gets `default_port`). kInvalidArgument, naming the entry,
// for an empty list or entry, a bad entry, or one listed twice.
absl::StatusOr<std::vector<ServerAddress>> ParseServerList(absl::string_view text, uint16_t default_port);

class ServerRotation {
 public:
  // `servers` must not be empty. `uniform01` as for ReconnectBackoff.
  explicit ServerRotation(std::vector<ServerAddress> servers, ReconnectBackoff::Options backoff = {},
                          std::function<double()> uniform01 = nullptr);

  // The server to try now (the first entry until something moves on).
  const ServerAddress& current() const { return servers_[index_]; }
  const std::vector<ServerAddress>& servers() const { return servers_; }

  // The connection to current() is lost: the next attempt goes to the entry
  // after it, after the delay returned (the backoff's first delay: clients
  // cut off by one node do not all arrive at the next in the same instant).
  absl::Duration Lost();
  // The attempt on current() failed: moves to the next entry. Returns the
  // delay before trying it: none while the pass over the list goes on, the
  // backoff's next delay once every entry has failed in this pass.
  absl::Duration Failed();
  // Connected (and logged in) to current(): the next Lost() starts the
  // backoff from its first delay again.
  void Connected();

 private:
  std::vector<ServerAddress> servers_;
  ReconnectBackoff backoff_;
  size_t index_ = 0;
  size_t failed_in_pass_ = 0;  // entries that failed since the pass began
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_SERVER_LIST_H_
