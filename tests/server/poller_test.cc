#include "src/server/poller.h"

#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

class PollerTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    auto p = MakePoller(GetParam());
    ASSERT_TRUE(p.ok()) << p.status();
    poller_ = std::move(*p);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
  }
  void TearDown() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  std::unique_ptr<Poller> poller_;
  int fds_[2];
  std::vector<PollEvent> events_;
};

TEST_P(PollerTest, ReportsReadableWithTag) {
  ASSERT_TRUE(poller_->Add(fds_[0], kPollRead, 42).ok());
  ASSERT_TRUE(poller_->Poll(0, &events_).ok());
  EXPECT_TRUE(events_.empty());
  ASSERT_EQ(::write(fds_[1], "x", 1), 1);
  ASSERT_TRUE(poller_->Poll(1000, &events_).ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].tag, 42u);
  EXPECT_TRUE(events_[0].readable);
  EXPECT_FALSE(events_[0].writable);
}

TEST_P(PollerTest, WriteInterestCanBeArmedAndDisarmed) {
  ASSERT_TRUE(poller_->Add(fds_[0], kPollRead | kPollWrite, 7).ok());
  ASSERT_TRUE(poller_->Poll(1000, &events_).ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_TRUE(events_[0].writable);
  ASSERT_TRUE(poller_->Modify(fds_[0], kPollRead, 7).ok());
  ASSERT_TRUE(poller_->Poll(0, &events_).ok());
  EXPECT_TRUE(events_.empty());
}

TEST_P(PollerTest, RemovedFdIsNotReported) {
  ASSERT_TRUE(poller_->Add(fds_[0], kPollRead, 1).ok());
  ASSERT_EQ(::write(fds_[1], "x", 1), 1);
  poller_->Remove(fds_[0]);
  ASSERT_TRUE(poller_->Poll(0, &events_).ok());
  EXPECT_TRUE(events_.empty());
}

TEST_P(PollerTest, PeerCloseIsReadable) {
  ASSERT_TRUE(poller_->Add(fds_[0], kPollRead, 3).ok());
  ::shutdown(fds_[1], SHUT_WR);
  ASSERT_TRUE(poller_->Poll(1000, &events_).ok());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_TRUE(events_[0].readable || events_[0].error);
}

INSTANTIATE_TEST_SUITE_P(Backends, PollerTest, ::testing::Values("epoll", "poll"));

TEST(Poller, UnknownBackendIsAnError) {
  EXPECT_EQ(MakePoller("kqueue").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace muxchat::server
