// Plain TCP: the Transport whose reads and writes are the socket's own. Kept
// thin on purpose: the fan-out hot path is OutputQueue's one writev.
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "src/server/poller.h"
#include "src/server/transport.h"

namespace muxchat::server {
namespace {

IoResult FromErrno(ssize_t n, uint32_t want) {
  IoResult r;
  if (n > 0) {
    r.bytes = static_cast<size_t>(n);
    return r;
  }
  if (n == 0) {
    r.code = IoResult::kEof;
    return r;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    r.code = IoResult::kWouldBlock;
    r.want = want;
    return r;
  }
  r.code = IoResult::kError;
  r.error = std::strerror(errno);
  return r;
}

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(int fd) : fd_(fd) {}
  const char* Name() const override { return "tcp"; }
  IoResult Handshake() override { return IoResult{}; }
  IoResult Read(wire::Buffer* in, size_t max_bytes) override {
    return FromErrno(in->ReadFromFd(fd_, max_bytes), kPollRead);
  }
  IoResult Write(wire::OutputQueue* out, size_t max_bytes) override {
    const ssize_t n = out->WriteToFd(fd_, max_bytes);
    if (n == 0) return IoResult{};  // nothing queued, or max_bytes 0
    return FromErrno(n, kPollWrite);
  }
  bool WritesVectors() const override { return true; }
  IoResult WriteVectors(const iovec* vec, size_t count) override {
    if (count == 0) return IoResult{};
    // MSG_NOSIGNAL as in OutputQueue::WriteToFd: a reset peer is EPIPE, not SIGPIPE.
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(vec);
    msg.msg_iovlen = count;
    return FromErrno(::sendmsg(fd_, &msg, MSG_NOSIGNAL), kPollWrite);
  }
  void ShutdownWrite() override { ::shutdown(fd_, SHUT_WR); }

 private:
  const int fd_;
};

}  // namespace

std::unique_ptr<Transport> MakeTcpTransport(int fd) { return std::make_unique<TcpTransport>(fd); }

}  // namespace muxchat::server
