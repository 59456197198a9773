#include "src/server/poller.h"

#include "absl/strings/str_cat.h"
#include "src/server/epoll_poller.h"
#include "src/server/poll_poller.h"

namespace muxchat::server {

absl::StatusOr<std::unique_ptr<Poller>> MakePoller(absl::string_view name) {
  if (name == "epoll") return EpollPoller::Create();
  if (name == "poll") return std::unique_ptr<Poller>(new PollPoller());
  return absl::InvalidArgumentError(absl::StrCat("unknown poller '", name, "' (epoll or poll)"));
}

}  // namespace muxchat::server
