// Poller backed by poll(2): portable and simple, O(registered fds) per wait.
// Kept as a second backend so the event loop is proven backend-agnostic.
#ifndef MUXCHAT_SERVER_POLL_POLLER_H_
#define MUXCHAT_SERVER_POLL_POLLER_H_

#include <poll.h>

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/server/poller.h"

namespace muxchat::server {

class PollPoller : public Poller {
 public:
  absl::Status Add(int fd, uint32_t interest, uint64_t tag) override;
  absl::Status Modify(int fd, uint32_t interest, uint64_t tag) override;
  void Remove(int fd) override;
  absl::Status Poll(int timeout_ms, std::vector<PollEvent>* events) override;
  const char* Name() const override { return "poll"; }

 private:
  std::vector<pollfd> fds_;
  std::vector<uint64_t> tags_;                 // parallel to fds_
  absl::flat_hash_map<int, size_t> index_;     // fd -> position in fds_
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_POLL_POLLER_H_
