// The one seam of the event loop: waits for readiness on many fds. Two
// backends, epoll (Linux) and poll(2), behind this interface so that the same
// tests run both. Level-triggered. Single-threaded; owned by the Server.
#ifndef MUXCHAT_SERVER_POLLER_H_
#define MUXCHAT_SERVER_POLLER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace muxchat::server {

enum PollInterest : uint32_t {
  kPollRead = 1,
  kPollWrite = 2,
};

struct PollEvent {
  uint64_t tag;      // what the caller registered the fd with
  bool readable;
  bool writable;
  bool error;        // hang-up or error: the caller should read to learn which
};

class Poller {
 public:
  virtual ~Poller() = default;
  virtual absl::Status Add(int fd, uint32_t interest, uint64_t tag) = 0;
  virtual absl::Status Modify(int fd, uint32_t interest, uint64_t tag) = 0;
  virtual void Remove(int fd) = 0;
  // Waits up to timeout_ms (-1: forever) and replaces *events with what is
  // ready. EINTR is not an error: it returns OK with no events.
  virtual absl::Status Poll(int timeout_ms, std::vector<PollEvent>* events) = 0;
  virtual const char* Name() const = 0;
};

// "epoll" or "poll".
absl::StatusOr<std::unique_ptr<Poller>> MakePoller(absl::string_view name);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_POLLER_H_
