#include "src/server/connection.h"

#include <vector>

#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

using State = Connection::State;

TEST(ConnectionState, TheLifecycleMovesForwardOnly) {
  EXPECT_TRUE(Connection::CanMove(State::kSniffing, State::kTlsHandshake));
  EXPECT_TRUE(Connection::CanMove(State::kSniffing, State::kAwaitingHello));
  EXPECT_TRUE(Connection::CanMove(State::kSniffing, State::kHttp));
  EXPECT_TRUE(Connection::CanMove(State::kTlsHandshake, State::kAwaitingHello));
  EXPECT_TRUE(Connection::CanMove(State::kAwaitingHello, State::kOpen));
  EXPECT_TRUE(Connection::CanMove(State::kAwaitingHello, State::kHttp));
  EXPECT_TRUE(Connection::CanMove(State::kOpen, State::kClosing));
  EXPECT_TRUE(Connection::CanMove(State::kClosing, State::kShutWrite));

  EXPECT_FALSE(Connection::CanMove(State::kOpen, State::kAwaitingHello));
  EXPECT_FALSE(Connection::CanMove(State::kOpen, State::kHttp));
  EXPECT_FALSE(Connection::CanMove(State::kHttp, State::kOpen));
  EXPECT_FALSE(Connection::CanMove(State::kSniffing, State::kOpen));
  EXPECT_FALSE(Connection::CanMove(State::kClosing, State::kOpen));
  EXPECT_FALSE(Connection::CanMove(State::kClosing, State::kClosing));
  EXPECT_FALSE(Connection::CanMove(State::kShutWrite, State::kClosing));
  EXPECT_FALSE(Connection::CanMove(State::kOpen, State::kSniffing));
}

TEST(ConnectionState, CloseIsIdempotentAndTheFirstReasonWins) {
  std::vector<Connection*> dirty;
  Connection c(1, -1, "mem", absl::Now(), 1 << 20, &dirty);
  EXPECT_EQ(c.state(), State::kAwaitingHello);
  c.Close(CloseReason::kTimeout, v1::FAILURE_TIMEOUT, "late");
  c.Close(CloseReason::kFlooding);
  EXPECT_EQ(c.state(), State::kClosing);
  EXPECT_EQ(c.close_reason(), CloseReason::kTimeout);
  EXPECT_EQ(dirty.size(), 1u);
}

TEST(ConnectionState, ALoggedInConnectionIsOpen) {
  std::vector<Connection*> dirty;
  Connection c(1, -1, "mem", absl::Now(), 1 << 20, &dirty);
  c.LogIn("alice", "alice");
  EXPECT_TRUE(c.logged_in());
  EXPECT_FALSE(c.MoveTo(State::kHttp));
  EXPECT_EQ(c.state(), State::kOpen);
}

}  // namespace
}  // namespace muxchat::server

namespace muxchat::server {
namespace {

TEST(ConnectionMemory, AnIdleConnectionHoldsNoInputBuffer) {
  std::vector<Connection*> dirty;
  Connection c(1, -1, "mem", absl::Now(), 1 << 20, &dirty);
  EXPECT_EQ(c.input().Capacity(), 0u);
  c.input().Append(std::string(10000, 'x'));
  EXPECT_GE(c.input().Capacity(), 10000u);
  c.ReleaseIdleMemory();  // not empty: kept
  EXPECT_GE(c.input().Capacity(), 10000u);
  c.input().Consume(10000);
  c.ReleaseIdleMemory();
  EXPECT_EQ(c.input().Capacity(), 0u);
}

}  // namespace
}  // namespace muxchat::server
