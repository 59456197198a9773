// ServerList: the servers a CLI run may use (`--server a:7000,b:7000`, or the
// one positional HOST:PORT; parsed by src/wire/host_port.h) and
// ServerRotation, which says which of them to try next and how long to wait
// first: in list order, round robin after a lost connection, today's
// ReconnectBackoff only between full passes over the list (so a dead node
// costs one failed connect, not a backoff delay).
//
// Thread rule: a ServerRotation has one owner (not thread-safe). The
// randomness of the backoff is injected.
#ifndef MUXCHAT_CLIENT_SERVER_LIST_H_
#define MUXCHAT_CLIENT_SERVER_LIST_H_

#include <cstddef>
#include <functional>
#include <vector>

#include "absl/time/time.h"
#include "src/client/reconnect_backoff.h"
#include "src/wire/host_port.h"

namespace muxchat::client {

// Where a server is: parsed from `--server a:7000,[::1]:7001` or HOST:PORT
// by src/wire/host_port.h (wire::ParseHostPortList, wire::SplitHostPort);
// ToString() is how messages name it and the token file's key.
using ServerAddress = wire::HostPort;

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
