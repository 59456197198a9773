#include "src/server/event_loop.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

// Records what the loop hands it and can act on the loop from inside.
class Recorder final : public EventLoop::Handler {
 public:
  void OnEvent(uint64_t token, const PollEvent& event, absl::Time) override {
    tokens.push_back(token);
    if (event.readable && on_readable) on_readable(token);
  }
  std::vector<uint64_t> tokens;
  std::function<void(uint64_t)> on_readable;
};

class EventLoopTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    auto loop = EventLoop::Create(GetParam());
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a_), 0);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b_), 0);
  }
  void TearDown() override {
    for (int fd : {a_[0], a_[1], b_[0], b_[1]}) ::close(fd);
  }
  std::unique_ptr<EventLoop> loop_;
  int a_[2];
  int b_[2];
};

TEST_P(EventLoopTest, DispatchesToTheHandlerWithItsToken) {
  Recorder r;
  ASSERT_TRUE(loop_->Add(a_[0], kPollRead, &r, 77).ok());
  ASSERT_EQ(::write(a_[1], "x", 1), 1);
  r.on_readable = [&](uint64_t) { loop_->Quit(); };
  ASSERT_TRUE(loop_->Run().ok());
  ASSERT_FALSE(r.tokens.empty());
  EXPECT_EQ(r.tokens[0], 77u);
}

TEST_P(EventLoopTest, RemovedFdGetsNoFurtherEventsInTheSameTurn) {
  Recorder first, second;
  ASSERT_TRUE(loop_->Add(a_[0], kPollRead, &first, 1).ok());
  ASSERT_TRUE(loop_->Add(b_[0], kPollRead, &second, 2).ok());
  ASSERT_EQ(::write(a_[1], "x", 1), 1);
  ASSERT_EQ(::write(b_[1], "x", 1), 1);
  // Whichever fires first removes the other: the other must not be called.
  auto remove_other = [&](int other) {
    return [&, other](uint64_t) {
      loop_->Remove(other);
      loop_->Quit();
    };
  };
  first.on_readable = remove_other(b_[0]);
  second.on_readable = remove_other(a_[0]);
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_EQ(first.tokens.size() + second.tokens.size(), 1u);
}

TEST_P(EventLoopTest, TimersRunInTimeOrderAndCancelledOnesNever) {
  std::vector<int> ran;
  const absl::Time now = absl::Now();
  loop_->RunAt(now + absl::Milliseconds(30), [&](absl::Time) { ran.push_back(3); loop_->Quit(); });
  loop_->RunAt(now + absl::Milliseconds(10), [&](absl::Time) { ran.push_back(1); });
  const EventLoop::TimerId cancelled = loop_->RunAt(now + absl::Milliseconds(20), [&](absl::Time) { ran.push_back(2); });
  loop_->Cancel(cancelled);
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_EQ(ran, (std::vector<int>{1, 3}));
}

TEST_P(EventLoopTest, TimerFiresNoEarlierThanItsTime) {
  const absl::Time due = absl::Now() + absl::Milliseconds(20);
  absl::Time fired;
  loop_->RunAt(due, [&](absl::Time at) {
    fired = at;
    loop_->Quit();
  });
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_GE(fired, due);
}

TEST_P(EventLoopTest, BeforePollRunsEachTurnAndWakeByBoundsTheWait) {
  int turns = 0;
  loop_->SetBeforePoll([&](absl::Time now) {
    // Nothing is registered: only WakeBy keeps this from sleeping forever.
    if (++turns == 3) {
      loop_->Quit();
      return;
    }
    loop_->WakeBy(now);
  });
  ASSERT_TRUE(loop_->Run().ok());
  EXPECT_EQ(turns, 3);
}

INSTANTIATE_TEST_SUITE_P(Pollers, EventLoopTest, ::testing::Values("epoll", "poll"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace muxchat::server
