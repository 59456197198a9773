// A blocking WebSocket client for server tests: the opening handshake over
// any connected socket, then one ClientFrame per masked binary message (no
// length prefix, docs/PROTOCOL.md §17) and ServerFrames read back with
// bounded waits. Raw() sends hostile bytes as they are. WebSocket Pings are
// answered while reading, as a browser does. Single-threaded; owns its fd.
#ifndef MUXCHAT_TESTS_SERVER_WS_TEST_CLIENT_H_
#define MUXCHAT_TESTS_SERVER_WS_TEST_CLIENT_H_

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/muxchat.pb.h"
#include "src/server/websocket_handshake.h"
#include "src/wire/buffer.h"
#include "src/wire/websocket_codec.h"

namespace muxchat::server::testing {

class WsTestClient {
 public:
  // What one read produced: a ServerFrame, or the server's Close.
  struct Received {
    bool closed = false;
    uint16_t close_code = 0;
    std::string close_reason;
    v1::ServerFrame frame;
  };

  // Takes `fd` (connected) and sends the upgrade request. Call
  // FinishHandshake to read the answer.
  explicit WsTestClient(int fd) : fd_(fd), decoder_(1 << 24, wire::WebSocketDecoder::Role::kClient) {}
  ~WsTestClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  WsTestClient(const WsTestClient&) = delete;
  WsTestClient& operator=(const WsTestClient&) = delete;

  int fd() const { return fd_; }
  // The payload of the last WebSocket Pong seen by Read(), and how many.
  const std::string& last_pong() const { return last_pong_; }
  size_t pong_count() const { return pong_count_; }

  // The RFC's example key; fine for tests (servers must not rely on keys being random).
  static constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";

  static std::string UpgradeRequest(const std::string& host, const std::string& origin,
                                    const std::string& key = kKey) {
    std::string r = absl::StrCat("GET /ws HTTP/1.1\r\nHost: ", host,
                                 "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ",
                                 key, "\r\n");
    if (!origin.empty()) absl::StrAppend(&r, "Origin: ", origin, "\r\n");
    return r + "\r\n";
  }

  absl::Status SendUpgrade(const std::string& host, const std::string& origin = "") {
    return Raw(UpgradeRequest(host, origin));
  }

  // Reads the response head; OK only for a 101 with the right accept value.
  // `head` (if given) receives the response head either way.
  absl::Status FinishHandshake(absl::Duration timeout, std::string* head = nullptr) {
    const absl::Time deadline = absl::Now() + timeout;
    size_t end;
    while ((end = in_.View().find("\r\n\r\n")) == absl::string_view::npos) {
      if (absl::Status s = ReadSome(deadline); !s.ok()) return s;
    }
    const std::string h(in_.View().substr(0, end + 4));
    in_.Consume(end + 4);
    if (head != nullptr) *head = h;
    if (!absl::StartsWith(h, "HTTP/1.1 101 ")) return absl::FailedPreconditionError(h);
    if (!absl::StrContains(h, absl::StrCat("Sec-WebSocket-Accept: ", ComputeWebSocketAccept(kKey), "\r\n"))) {
      return absl::DataLossError("wrong Sec-WebSocket-Accept");
    }
    return absl::OkStatus();
  }

  // One masked binary message holding `frame`'s protobuf bytes.
  absl::Status Send(const v1::ClientFrame& frame) {
    wire::Buffer out;
    wire::AppendWsClientFrame(wire::WsOpcode::kBinary, frame.SerializeAsString(), NextMask(), &out);
    return Raw(out.View());
  }
  absl::Status SendControl(wire::WsOpcode opcode, absl::string_view payload) {
    wire::Buffer out;
    wire::AppendWsClientFrame(opcode, payload, NextMask(), &out);
    return Raw(out.View());
  }
  absl::Status Raw(absl::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(absl::StrCat("send: ", errno));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  // The next ServerFrame or Close; kDeadlineExceeded on timeout,
  // kUnavailable when the socket ends without a Close.
  absl::StatusOr<Received> Read(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      wire::WsEvent ev;
      absl::StatusOr<bool> got = decoder_.Next(&in_, &ev);
      if (!got.ok()) return got.status();
      if (*got) {
        switch (ev.kind) {
          case wire::WsEvent::Kind::kPing:
            if (absl::Status s = SendControl(wire::WsOpcode::kPong, ev.payload); !s.ok()) return s;
            continue;
          case wire::WsEvent::Kind::kPong:
            last_pong_ = std::string(ev.payload);
            ++pong_count_;
            continue;
          case wire::WsEvent::Kind::kClose: {
            Received r;
            r.closed = true;
            r.close_code = ev.close_code;
            r.close_reason = std::string(ev.payload);
            return r;
          }
          case wire::WsEvent::Kind::kMessage: {
            Received r;
            if (!r.frame.ParseFromArray(ev.payload.data(), static_cast<int>(ev.payload.size()))) {
              return absl::DataLossError("message is not a ServerFrame");
            }
            return r;
          }
        }
      }
      if (absl::Status s = ReadSome(deadline); !s.ok()) return s;
    }
  }

 private:
  absl::Status ReadSome(absl::Time deadline) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("no data in time");
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r == 0) return absl::DeadlineExceededError("no data in time");
    if (r < 0) return errno == EINTR ? absl::OkStatus() : absl::UnavailableError("poll");
    in_.EnsureWritable(64 * 1024);
    const ssize_t n = ::recv(fd_, in_.BeginWrite(), 64 * 1024, 0);
    if (n == 0) return absl::UnavailableError("connection closed");
    if (n < 0) return errno == EINTR ? absl::OkStatus() : absl::UnavailableError(absl::StrCat("recv: ", errno));
    in_.CommitWrite(static_cast<size_t>(n));
    return absl::OkStatus();
  }

  uint32_t NextMask() {
    mask_ = mask_ * 1664525u + 1013904223u;
    return mask_;
  }

  int fd_;
  wire::Buffer in_;
  wire::WebSocketDecoder decoder_;
  uint32_t mask_ = 0x9E3779B9u;
  std::string last_pong_;
  size_t pong_count_ = 0;
};

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_WS_TEST_CLIENT_H_
