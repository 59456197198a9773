#include "src/client/session_common.h"

#include <unistd.h>

#include "gtest/gtest.h"
#include "src/client/server_status.h"

namespace muxchat::client {
namespace {

TEST(SessionCommon, ConnectFailureNamesTheAddressOnce) {
  EXPECT_EQ(ConnectFailure("127.0.0.1", 7399,
                           absl::UnavailableError("connect to 127.0.0.1:7399: Connection refused")),
            "connect to 127.0.0.1:7399: Connection refused");
  EXPECT_EQ(ConnectFailure("nosuch", 7000, absl::NotFoundError("cannot resolve nosuch: Name or service not known")),
            "cannot resolve nosuch: Name or service not known");
}

TEST(SessionCommon, ConnectFailureAddsTheAddressWhenTheStatusLacksIt) {
  EXPECT_EQ(ConnectFailure("::1", 7000, absl::UnavailableError("TLS: the server's certificate is not trusted")),
            "cannot connect to [::1]:7000: TLS: the server's certificate is not trusted");
}

TEST(SessionCommon, ServerEndSaysTheShutdownReasonOnlyWhenItSaysMore) {
  v1::ServerFrame frame;
  frame.mutable_shutdown()->set_reason("server shutting down");  // muxchatd's own
  EXPECT_EQ(DescribeServerEnd(frame), "the server is shutting down");
  frame.mutable_shutdown()->set_reason("maintenance until 10:30");
  EXPECT_EQ(DescribeServerEnd(frame), "the server is shutting down: maintenance until 10:30");
  frame.mutable_shutdown()->clear_reason();
  EXPECT_EQ(DescribeServerEnd(frame), "the server is shutting down");
}

TEST(SessionCommon, DefaultNicknameIsTheSameEveryCall) {
  EXPECT_FALSE(DefaultNickname().empty());
  EXPECT_EQ(DefaultNickname(), DefaultNickname());
}

TEST(SessionCommon, ReconnectsAfterDropsTimeoutsAndSlowConsumerDisconnects) {
  EXPECT_TRUE(ShouldReconnect(absl::UnavailableError("connection closed by the server")));
  EXPECT_TRUE(ShouldReconnect(absl::DeadlineExceededError("server did not read our output")));
  EXPECT_TRUE(ShouldReconnect(StatusFromServer(v1::FAILURE_TIMEOUT, "no answer to keepalive ping")));
  EXPECT_TRUE(ShouldReconnect(StatusFromServer(v1::FAILURE_SLOW_CONSUMER, "too slow")));
  EXPECT_TRUE(ShouldReconnect(StatusFromServer(v1::FAILURE_SERVER_FULL, "full")));
}

TEST(SessionCommon, DoesNotReconnectWhenTheServerRefusesUsForGood) {
  EXPECT_FALSE(ShouldReconnect(absl::OkStatus()));
  EXPECT_FALSE(ShouldReconnect(StatusFromServer(v1::FAILURE_AUTH, "token revoked")));
  EXPECT_FALSE(ShouldReconnect(StatusFromServer(v1::FAILURE_PROTOCOL, "garbage")));
  EXPECT_FALSE(ShouldReconnect(StatusFromServer(v1::FAILURE_VERSION_MISMATCH, "v2")));
  EXPECT_FALSE(ShouldReconnect(absl::DataLossError("undecodable data from the server")));
}

TEST(SessionCommon, SleepUnlessSignalledStopsAtAReadableFd) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  EXPECT_TRUE(SleepUnlessSignalled(p[0], absl::Milliseconds(1)));
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  EXPECT_FALSE(SleepUnlessSignalled(p[0], absl::Hours(1)));  // returns at once, fd left unread
  char c;
  EXPECT_EQ(::read(p[0], &c, 1), 1);
  ::close(p[0]);
  ::close(p[1]);
}

}  // namespace
}  // namespace muxchat::client
