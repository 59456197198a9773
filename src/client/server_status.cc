#include "src/client/server_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace muxchat::client {
namespace {

absl::StatusCode CodeFor(v1::Status status) {
  switch (status) {
    case v1::SUCCESS:
      return absl::StatusCode::kOk;
    case v1::FAILURE_ALREADY_EXISTS:
      return absl::StatusCode::kAlreadyExists;
    case v1::FAILURE_NOT_EXISTS:
      return absl::StatusCode::kNotFound;
    case v1::FAILURE_INVALID:
      return absl::StatusCode::kInvalidArgument;
    case v1::FAILURE_PERMISSION_DENIED:
      return absl::StatusCode::kPermissionDenied;
    case v1::FAILURE_NOT_MEMBER:
    case v1::FAILURE_HANDSHAKE:
    case v1::FAILURE_VERSION_MISMATCH:
      return absl::StatusCode::kFailedPrecondition;
    case v1::FAILURE_LIMIT_REACHED:
    case v1::FAILURE_RATE_LIMITED:
    case v1::FAILURE_FRAME_TOO_LARGE:
      return absl::StatusCode::kResourceExhausted;
    case v1::FAILURE_PROTOCOL:
      return absl::StatusCode::kInternal;
    case v1::FAILURE_SLOW_CONSUMER:
    case v1::FAILURE_TIMEOUT:
    case v1::FAILURE_SERVER_FULL:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kUnknown;
  }
}

}  // namespace

absl::Status StatusFromServer(v1::Status status, absl::string_view message) {
  const absl::StatusCode code = CodeFor(status);
  if (code == absl::StatusCode::kOk) return absl::OkStatus();
  std::string text(message);
  if (text.empty()) {
    text = v1::Status_IsValid(status) ? v1::Status_Name(status)
                                      : absl::StrCat("server status ", static_cast<int>(status));
  }
  absl::Status result(code, text);
  result.SetPayload(kServerStatusPayloadUrl, absl::Cord(absl::StrCat(static_cast<int>(status))));
  return result;
}

std::optional<v1::Status> ServerStatusOf(const absl::Status& status) {
  if (status.ok()) return std::nullopt;
  auto payload = status.GetPayload(kServerStatusPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  int value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value) || !v1::Status_IsValid(value)) {
    return std::nullopt;
  }
  return static_cast<v1::Status>(value);
}

}  // namespace muxchat::client
