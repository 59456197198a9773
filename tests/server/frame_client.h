// A blocking muxchat client over a real socket for process tests: sends
// ClientFrames and reads ServerFrames with a deadline. Loopback only.
#ifndef MUXCHAT_TESTS_SERVER_FRAME_CLIENT_H_
#define MUXCHAT_TESTS_SERVER_FRAME_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/muxchat.pb.h"
#include "src/wire/buffer.h"
#include "src/wire/frame_codec.h"

namespace muxchat::server::testing {

class FrameClient {
 public:
  explicit FrameClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    const int one = 1;
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~FrameClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  FrameClient(const FrameClient&) = delete;
  FrameClient& operator=(const FrameClient&) = delete;

  bool connected() const { return fd_ >= 0; }

  bool Send(const v1::ClientFrame& f) { return SendBytes(wire::EncodeFrameToString(f)); }

  // All of `frames` in one send: the server most likely reads them in one
  // go, as from a client that pipelines.
  bool SendAll(const std::vector<v1::ClientFrame>& frames) {
    std::string bytes;
    for (const v1::ClientFrame& f : frames) bytes += wire::EncodeFrameToString(f);
    return SendBytes(bytes);
  }

  // Writes all of `bytes` (blocking socket); false if the connection broke.
  bool SendBytes(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // The next frame, or nullopt on timeout, EOF or a bad frame.
  std::optional<v1::ServerFrame> Read(absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      v1::ServerFrame f;
      absl::StatusOr<bool> got = decoder_.Next(&in_, &f);
      if (!got.ok()) return std::nullopt;
      if (*got) return f;
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) != 1) return std::nullopt;
      if (in_.ReadFromFd(fd_, 1 << 20) <= 0) return std::nullopt;
    }
  }

  // Reads until a frame answering `request_id` (welcome or reply), skipping events.
  std::optional<v1::ServerFrame> Await(uint64_t request_id, absl::Duration timeout = absl::Seconds(10)) {
    for (;;) {
      std::optional<v1::ServerFrame> f = Read(timeout);
      if (!f.has_value()) return f;
      if (f->request_id() == request_id && (f->has_welcome() || f->has_reply() || f->has_error())) return f;
    }
  }

 private:
  int fd_ = -1;
  wire::Buffer in_;
  wire::FrameDecoder decoder_;
};

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_FRAME_CLIENT_H_
