#include "src/client/session_common.h"

#include "gtest/gtest.h"

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

TEST(SessionCommon, DefaultNicknameIsTheSameEveryCall) {
  EXPECT_FALSE(DefaultNickname().empty());
  EXPECT_EQ(DefaultNickname(), DefaultNickname());
}

}  // namespace
}  // namespace muxchat::client
