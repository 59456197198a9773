#include "src/wire/host_port.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace muxchat::wire {

std::string HostPort::ToString() const {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
}

absl::Status ParsePort(absl::string_view text, uint16_t* port) {
  uint32_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value == 0 || value > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("invalid port '", text, "' (expected 1..65535)"));
  }
  *port = static_cast<uint16_t>(value);
  return absl::OkStatus();
}

absl::Status SplitHostPort(absl::string_view arg, std::string* host, std::optional<uint16_t>* port) {
  absl::string_view port_text;
  bool has_port = false;
  if (!arg.empty() && arg[0] == '[') {
    const size_t close = arg.find(']');
    if (close == absl::string_view::npos) return absl::InvalidArgumentError(absl::StrCat("missing ']' in '", arg, "'"));
    *host = std::string(arg.substr(1, close - 1));
    const absl::string_view rest = arg.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return absl::InvalidArgumentError(absl::StrCat("expected [ADDRESS]:PORT, got '", arg, "'"));
      port_text = rest.substr(1);
      has_port = true;
    }
  } else if (const size_t colon = arg.find(':');
             colon != absl::string_view::npos && arg.find(':', colon + 1) == absl::string_view::npos) {
    *host = std::string(arg.substr(0, colon));
    port_text = arg.substr(colon + 1);
    has_port = true;
  } else {
    *host = std::string(arg);
  }
  if (host->empty()) return absl::InvalidArgumentError(absl::StrCat("no host in '", arg, "'"));
  if (has_port) {
    uint16_t p = 0;
    if (absl::Status s = ParsePort(port_text, &p); !s.ok()) return s;
    *port = p;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<HostPort>> ParseHostPortList(absl::string_view text,
                                                        std::optional<uint16_t> default_port) {
  std::vector<HostPort> list;
  for (absl::string_view entry : absl::StrSplit(text, ',')) {
    if (entry.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("empty entry in the server list '", text, "'"));
    }
    HostPort a;
    std::optional<uint16_t> port;
    if (absl::Status s = SplitHostPort(entry, &a.host, &port); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("server list: ", s.message()));
    }
    if (!port.has_value() && !default_port.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("server list: no port in '", entry, "' (expected HOST:PORT)"));
    }
    a.port = port.has_value() ? *port : *default_port;
    for (const HostPort& seen : list) {
      if (seen == a) return absl::InvalidArgumentError(absl::StrCat("server list names ", a.ToString(), " twice"));
    }
    list.push_back(std::move(a));
  }
  return list;
}

std::string FormatHostPortList(const std::vector<HostPort>& list) {
  return absl::StrJoin(list, ",", [](std::string* out, const HostPort& a) { out->append(a.ToString()); });
}

}  // namespace muxchat::wire
