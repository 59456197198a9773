// HostPort: one server's address as a person types it ("host:port",
// "[v6]:port", a comma-separated list of them), parsed and printed back.
// Shared by the CLI (`--server`, HOST:PORT) and the load generator
// (`--servers`); the error messages name "the server list" because both
// lists are of servers. Pure functions and a value type: any thread.
#ifndef MUXCHAT_WIRE_HOST_PORT_H_
#define MUXCHAT_WIRE_HOST_PORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace muxchat::wire {

struct HostPort {
  std::string host;  // a name or an address; IPv6 literals without brackets
  uint16_t port = 0;

  // "host:port", "[v6]:port": how messages name it (and the CLI's token key).
  std::string ToString() const;
  bool operator==(const HostPort& o) const { return host == o.host && port == o.port; }
};

// "1".."65535" into `*port`; kInvalidArgument naming the text otherwise.
absl::Status ParsePort(absl::string_view text, uint16_t* port);

// Splits "host", "host:port", "[v6]:port" or "[v6]"; a bare IPv6 address (two
// or more colons, no brackets) is a host alone. `*port` is left unset when
// the text gives none. kInvalidArgument with a one-line reason.
absl::Status SplitHostPort(absl::string_view text, std::string* host, std::optional<uint16_t>* port);

// A comma-separated list of addresses as SplitHostPort reads them. An entry
// without a port gets `default_port`; with none, it is refused. In list
// order. kInvalidArgument, naming the entry, for an empty list or entry, a
// bad entry, or one listed twice.
absl::StatusOr<std::vector<HostPort>> ParseHostPortList(absl::string_view text,
                                                        std::optional<uint16_t> default_port);

// "a:1,[::1]:2": the list as ParseHostPortList reads it back.
std::string FormatHostPortList(const std::vector<HostPort>& list);

}  // namespace muxchat::wire

#endif  // MUXCHAT_WIRE_HOST_PORT_H_
