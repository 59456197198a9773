// Why a connection was closed: logged once per connection and counted, so an
// operator can tell client churn from protocol abuse from slow readers.
#ifndef MUXCHAT_SERVER_CLOSE_REASON_H_
#define MUXCHAT_SERVER_CLOSE_REASON_H_

namespace muxchat::server {

enum class CloseReason {
  kNone = 0,
  kClientClosed,
  kReadError,
  kWriteError,
  kProtocolError,
  kFrameTooLarge,
  kHandshakeError,
  kSlowConsumer,
  kTimeout,
  kServerFull,
  kFlooding,
  kShutdown,
};

inline constexpr int kCloseReasonCount = static_cast<int>(CloseReason::kShutdown) + 1;

inline const char* CloseReasonName(CloseReason r) {
  switch (r) {
    case CloseReason::kNone: return "none";
    case CloseReason::kClientClosed: return "client closed";
    case CloseReason::kReadError: return "read error";
    case CloseReason::kWriteError: return "write error";
    case CloseReason::kProtocolError: return "protocol error";
    case CloseReason::kFrameTooLarge: return "frame too large";
    case CloseReason::kHandshakeError: return "handshake error";
    case CloseReason::kSlowConsumer: return "slow consumer";
    case CloseReason::kTimeout: return "timeout";
    case CloseReason::kServerFull: return "server full";
    case CloseReason::kFlooding: return "flooding";
    case CloseReason::kShutdown: return "server shutdown";
  }
  return "unknown";
}

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_CLOSE_REASON_H_
