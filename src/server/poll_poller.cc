#include "src/server/poll_poller.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace muxchat::server {
namespace {
short ToPollEvents(uint32_t interest) {
  return static_cast<short>(((interest & kPollRead) ? POLLIN | POLLRDHUP : 0) |
                            ((interest & kPollWrite) ? POLLOUT : 0));
}
}  // namespace

absl::Status PollPoller::Add(int fd, uint32_t interest, uint64_t tag) {
  if (index_.contains(fd)) return absl::AlreadyExistsError(absl::StrCat("fd ", fd, " already polled"));
  index_[fd] = fds_.size();
  fds_.push_back(pollfd{fd, ToPollEvents(interest), 0});
  tags_.push_back(tag);
  return absl::OkStatus();
}

absl::Status PollPoller::Modify(int fd, uint32_t interest, uint64_t tag) {
  auto it = index_.find(fd);
  if (it == index_.end()) return absl::NotFoundError(absl::StrCat("fd ", fd, " not polled"));
  fds_[it->second].events = ToPollEvents(interest);
  tags_[it->second] = tag;
  return absl::OkStatus();
}

void PollPoller::Remove(int fd) {
  auto it = index_.find(fd);
  if (it == index_.end()) return;
  const size_t pos = it->second;
  index_.erase(it);
  // Swap-remove keeps the array dense.
  if (pos != fds_.size() - 1) {
    fds_[pos] = fds_.back();
    tags_[pos] = tags_.back();
    index_[fds_[pos].fd] = pos;
  }
  fds_.pop_back();
  tags_.pop_back();
}

absl::Status PollPoller::Poll(int timeout_ms, std::vector<PollEvent>* events) {
  events->clear();
  const int n = ::poll(fds_.data(), fds_.size(), timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
  }
  for (size_t i = 0; i < fds_.size() && events->size() < static_cast<size_t>(n); ++i) {
    const short r = fds_[i].revents;
    if (r == 0) continue;
    events->push_back(PollEvent{tags_[i], (r & (POLLIN | POLLRDHUP)) != 0, (r & POLLOUT) != 0,
                                (r & (POLLERR | POLLHUP | POLLNVAL)) != 0});
  }
  return absl::OkStatus();
}

}  // namespace muxchat::server
