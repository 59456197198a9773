#include "src/server/epoll_poller.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace muxchat::server {

absl::StatusOr<std::unique_ptr<Poller>> EpollPoller::Create() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("epoll_create1: ", std::strerror(errno)));
  return std::unique_ptr<Poller>(new EpollPoller(fd));
}

EpollPoller::~EpollPoller() { ::close(epfd_); }

absl::Status EpollPoller::Control(int op, int fd, uint32_t interest, uint64_t tag) {
  epoll_event ev{};
  ev.events = ((interest & kPollRead) ? EPOLLIN | EPOLLRDHUP : 0u) | ((interest & kPollWrite) ? EPOLLOUT : 0u);
  ev.data.u64 = tag;
  if (::epoll_ctl(epfd_, op, fd, &ev) < 0) {
    return absl::InternalError(absl::StrCat("epoll_ctl(", fd, "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status EpollPoller::Add(int fd, uint32_t interest, uint64_t tag) {
  return Control(EPOLL_CTL_ADD, fd, interest, tag);
}

absl::Status EpollPoller::Modify(int fd, uint32_t interest, uint64_t tag) {
  return Control(EPOLL_CTL_MOD, fd, interest, tag);
}

void EpollPoller::Remove(int fd) { ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

absl::Status EpollPoller::Poll(int timeout_ms, std::vector<PollEvent>* events) {
  events->clear();
  const int n = ::epoll_wait(epfd_, ready_.data(), static_cast<int>(ready_.size()), timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("epoll_wait: ", std::strerror(errno)));
  }
  for (int i = 0; i < n; ++i) {
    const uint32_t e = ready_[i].events;
    events->push_back(PollEvent{ready_[i].data.u64, (e & (EPOLLIN | EPOLLRDHUP)) != 0,
                                (e & EPOLLOUT) != 0, (e & (EPOLLERR | EPOLLHUP)) != 0});
  }
  // A full batch suggests more were ready: grow so one wait drains a burst.
  if (static_cast<size_t>(n) == ready_.size() && ready_.size() < 16384) ready_.resize(ready_.size() * 2);
  return absl::OkStatus();
}

}  // namespace muxchat::server
