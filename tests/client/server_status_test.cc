#include "src/client/server_status.h"

#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

TEST(StatusFromServer, SuccessIsOk) {
  EXPECT_TRUE(StatusFromServer(v1::SUCCESS, "").ok());
  EXPECT_EQ(ServerStatusOf(absl::OkStatus()), std::nullopt);
}

TEST(StatusFromServer, MapsEachFailureToItsMostSpecificCode) {
  const std::vector<std::pair<v1::Status, absl::StatusCode>> table = {
      {v1::FAILURE_ALREADY_EXISTS, absl::StatusCode::kAlreadyExists},
      {v1::FAILURE_NOT_EXISTS, absl::StatusCode::kNotFound},
      {v1::FAILURE_INVALID, absl::StatusCode::kInvalidArgument},
      {v1::FAILURE_UNKNOWN, absl::StatusCode::kUnknown},
      {v1::FAILURE_PERMISSION_DENIED, absl::StatusCode::kPermissionDenied},
      {v1::FAILURE_NOT_MEMBER, absl::StatusCode::kFailedPrecondition},
      {v1::FAILURE_LIMIT_REACHED, absl::StatusCode::kResourceExhausted},
      {v1::FAILURE_RATE_LIMITED, absl::StatusCode::kResourceExhausted},
      {v1::FAILURE_HANDSHAKE, absl::StatusCode::kFailedPrecondition},
      {v1::FAILURE_VERSION_MISMATCH, absl::StatusCode::kFailedPrecondition},
      {v1::FAILURE_FRAME_TOO_LARGE, absl::StatusCode::kResourceExhausted},
      {v1::FAILURE_PROTOCOL, absl::StatusCode::kInternal},
      {v1::FAILURE_SLOW_CONSUMER, absl::StatusCode::kUnavailable},
      {v1::FAILURE_TIMEOUT, absl::StatusCode::kUnavailable},
      {v1::FAILURE_SERVER_FULL, absl::StatusCode::kUnavailable},
      {v1::STATUS_UNSPECIFIED, absl::StatusCode::kUnknown},
  };
  for (const auto& [server, code] : table) {
    const absl::Status s = StatusFromServer(server, "why");
    EXPECT_EQ(s.code(), code) << v1::Status_Name(server);
    EXPECT_EQ(s.message(), "why") << v1::Status_Name(server);
    EXPECT_EQ(ServerStatusOf(s), server) << v1::Status_Name(server);
  }
}

TEST(StatusFromServer, PayloadTellsRateLimitedFromLimitReached) {
  const absl::Status rate = StatusFromServer(v1::FAILURE_RATE_LIMITED, "slow down");
  const absl::Status limit = StatusFromServer(v1::FAILURE_LIMIT_REACHED, "too many rooms");
  EXPECT_EQ(rate.code(), limit.code());
  EXPECT_EQ(ServerStatusOf(rate), v1::FAILURE_RATE_LIMITED);
  EXPECT_EQ(ServerStatusOf(limit), v1::FAILURE_LIMIT_REACHED);
  EXPECT_TRUE(rate.GetPayload(kServerStatusPayloadUrl).has_value());
}

TEST(StatusFromServer, EmptyMessageNamesTheStatus) {
  EXPECT_EQ(StatusFromServer(v1::FAILURE_NOT_MEMBER, "").message(), "FAILURE_NOT_MEMBER");
}

TEST(ServerStatusOf, IsEmptyForStatusesNotFromTheServer) {
  EXPECT_EQ(ServerStatusOf(absl::ResourceExhaustedError("local")), std::nullopt);
}

}  // namespace
}  // namespace muxchat::client
