#include "src/server/redis_link.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/redis_process.h"

namespace muxchat::server {
namespace {

using ::muxchat::server::testing::HaveRedisServer;
using ::muxchat::server::testing::RedisProcess;
using ::muxchat::server::testing::RunLoopUntil;

class RedisLinkTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!HaveRedisServer()) GTEST_SKIP() << "redis-server not installed (scripts/install-deps.sh)";
    ASSERT_TRUE(redis_.Start().ok());
    auto loop = EventLoop::Create(GetParam());
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    RedisLinkOptions options;
    options.port = redis_.port();
    // Short, for the SIGSTOP test to see the watchdog soon; long enough that a
    // loaded machine's scheduling delay does not cut a healthy link.
    options.command_timeout = absl::Seconds(2);
    link_ = std::make_unique<RedisLink>(loop_.get(), options);
    link_->SetStatusCallback([this](RedisLinkState state, const absl::Status& why) {
      states_.push_back(state);
      last_why_ = why;
    });
  }

  // The reply to `args` as text (or "<null>" / the error).
  std::string Run(const std::vector<std::string>& args) {
    std::optional<std::string> out;
    absl::Status st = link_->Command(args, [&](redisReply* r) {
      out = r == nullptr ? "<null>" : std::string(r->str != nullptr ? r->str : "", r->len) +
                                          (r->type == REDIS_REPLY_INTEGER ? std::to_string(r->integer) : "");
    });
    if (!st.ok()) return std::string(st.message());
    EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return out.has_value(); }));
    return out.value_or("<timeout>");
  }

  RedisProcess redis_;
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<RedisLink> link_;
  std::vector<RedisLinkState> states_;
  absl::Status last_why_;
};

TEST_P(RedisLinkTest, ReportsUpAndAnswersCommands) {
  link_->Start();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return link_->up(); }));
  EXPECT_EQ(states_, std::vector<RedisLinkState>{RedisLinkState::kUp});
  EXPECT_EQ(Run({"SET", "k", std::string("v\0w", 3)}), "OK");
  EXPECT_EQ(Run({"GET", "k"}), std::string("v\0w", 3));
  EXPECT_EQ(Run({"INCR", "n"}), "1");
}

TEST_P(RedisLinkTest, RefusesCommandsAtOnceBeforeItIsUp) {
  bool called = false;
  absl::Status st = link_->Command({"PING"}, [&](redisReply*) { called = true; });
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(called);
}

TEST_P(RedisLinkTest, ReportsDownWhenRedisDiesAndReconnectsWhenItReturns) {
  link_->Start();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return link_->up(); }));
  const uint16_t port = redis_.port();
  redis_.Kill();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return !link_->up(); }));
  EXPECT_EQ(states_.back(), RedisLinkState::kDown);
  EXPECT_EQ(last_why_.code(), absl::StatusCode::kUnavailable) << last_why_;
  // While down: refused at once, with the cause.
  absl::Status st = link_->Command({"PING"}, [](redisReply*) {});
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  // Retries while Redis stays away report nothing more.
  const size_t reports = states_.size();
  RunLoopUntil(loop_.get(), [] { return false; }, absl::Milliseconds(300));
  EXPECT_EQ(states_.size(), reports);
  ASSERT_TRUE(redis_.StartOn(port).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return link_->up(); }));
  EXPECT_EQ(link_->connects(), 2u);
  EXPECT_EQ(Run({"PING"}), "PONG");
}

TEST_P(RedisLinkTest, FailsACommandInFlightWhenRedisDies) {
  link_->Start();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return link_->up(); }));
  bool got_null = false;
  bool ponged = false;
  // BLPOP parks its reply in Redis: it is in flight when the kill lands.
  // Both go out in one write, so PING's answer means BLPOP was sent.
  ASSERT_TRUE(link_->Command({"PING"}, [&](redisReply* r) { ponged = r != nullptr; }).ok());
  ASSERT_TRUE(link_->Command({"BLPOP", "nothing", "0"}, [&](redisReply* r) { got_null = r == nullptr; }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return ponged; }));
  redis_.Kill();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return got_null; }));
  EXPECT_FALSE(link_->up());
}

TEST_P(RedisLinkTest, CutsTheConnectionWhenAReplyIsOverdue) {
  link_->Start();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return link_->up(); }));
  redis_.Pause();  // a wedged Redis: the socket stays open, nothing answers
  bool got_null = false;
  ASSERT_TRUE(link_->Command({"PING"}, [&](redisReply* r) { got_null = r == nullptr; }).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return got_null && !link_->up(); }));
  EXPECT_EQ(last_why_.code(), absl::StatusCode::kDeadlineExceeded) << last_why_;
  redis_.Resume();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return link_->up(); }));
  EXPECT_EQ(Run({"PING"}), "PONG");
}

INSTANTIATE_TEST_SUITE_P(Pollers, RedisLinkTest, ::testing::Values("epoll", "poll"));

}  // namespace
}  // namespace muxchat::server
