// Translation of the server's protocol Status (proto enum muxchat.v1.Status)
// into absl::Status with the most specific canonical code. The numeric server
// status travels along as a payload so callers can tell apart failures that
// share a code (e.g. FAILURE_LIMIT_REACHED vs FAILURE_RATE_LIMITED).
// Pure functions; safe from any thread.
#ifndef MUXCHAT_CLIENT_SERVER_STATUS_H_
#define MUXCHAT_CLIENT_SERVER_STATUS_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/muxchat.pb.h"

namespace muxchat::client {

// Payload type URL under which StatusFromServer stores the server status, as
// its decimal enum number.
inline constexpr absl::string_view kServerStatusPayloadUrl = "muxchat.v1.Status";

// SUCCESS -> OkStatus(). Otherwise an error with `message` (or a default text
// naming the status when `message` is empty) and the kServerStatusPayloadUrl
// payload. Codes:
//   FAILURE_ALREADY_EXISTS                      kAlreadyExists
//   FAILURE_NOT_EXISTS                          kNotFound
//   FAILURE_INVALID                             kInvalidArgument
//   FAILURE_PERMISSION_DENIED                   kPermissionDenied
//   FAILURE_NOT_MEMBER                          kFailedPrecondition
//   FAILURE_HANDSHAKE, FAILURE_VERSION_MISMATCH kFailedPrecondition
//   FAILURE_LIMIT_REACHED, FAILURE_RATE_LIMITED kResourceExhausted
//   FAILURE_FRAME_TOO_LARGE                     kResourceExhausted
//   FAILURE_PROTOCOL                            kInternal (the two ends disagree on the wire)
//   FAILURE_SLOW_CONSUMER, FAILURE_TIMEOUT,
//   FAILURE_SERVER_FULL                         kUnavailable (the connection is gone; retry later)
//   FAILURE_UNKNOWN, STATUS_UNSPECIFIED, other  kUnknown
// FAILURE_TIMEOUT is deliberately not kDeadlineExceeded: the client API uses
// that code only for its own local timeouts.
absl::Status StatusFromServer(v1::Status status, absl::string_view message);

// The server status attached by StatusFromServer, or nullopt if `status` is OK
// or did not come from the server.
std::optional<v1::Status> ServerStatusOf(const absl::Status& status);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_SERVER_STATUS_H_
