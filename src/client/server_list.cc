#include "src/client/server_list.h"

#include <utility>

namespace muxchat::client {

ServerRotation::ServerRotation(std::vector<ServerAddress> servers, ReconnectBackoff::Options backoff,
                               std::function<double()> uniform01)
    : servers_(std::move(servers)), backoff_(backoff, std::move(uniform01)) {}

absl::Duration ServerRotation::Lost() {
  backoff_.Reset();
  index_ = (index_ + 1) % servers_.size();
  failed_in_pass_ = 0;
  return backoff_.Next();
}

absl::Duration ServerRotation::Failed() {
  index_ = (index_ + 1) % servers_.size();
  if (++failed_in_pass_ < servers_.size()) return absl::ZeroDuration();
  failed_in_pass_ = 0;
  return backoff_.Next();
}

void ServerRotation::Connected() {
  backoff_.Reset();
  failed_in_pass_ = 0;
}

}  // namespace muxchat::client
