// Poller backed by Linux epoll: O(ready) per wait, the default.
#ifndef MUXCHAT_SERVER_EPOLL_POLLER_H_
#define MUXCHAT_SERVER_EPOLL_POLLER_H_

#include <sys/epoll.h>

#include <vector>

#include "src/server/poller.h"

namespace muxchat::server {

class EpollPoller : public Poller {
 public:
  // Fails if epoll_create1 fails.
  static absl::StatusOr<std::unique_ptr<Poller>> Create();
  ~EpollPoller() override;
  EpollPoller(const EpollPoller&) = delete;
  EpollPoller& operator=(const EpollPoller&) = delete;

  absl::Status Add(int fd, uint32_t interest, uint64_t tag) override;
  absl::Status Modify(int fd, uint32_t interest, uint64_t tag) override;
  void Remove(int fd) override;
  absl::Status Poll(int timeout_ms, std::vector<PollEvent>* events) override;
  const char* Name() const override { return "epoll"; }

 private:
  explicit EpollPoller(int epfd) : epfd_(epfd), ready_(256) {}
  absl::Status Control(int op, int fd, uint32_t interest, uint64_t tag);

  int epfd_;
  std::vector<epoll_event> ready_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_EPOLL_POLLER_H_
