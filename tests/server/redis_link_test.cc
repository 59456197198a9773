#include "src/server/redis_link.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

TEST_P(RedisLinkTest, SendsAFormattedCommandAsItIs) {
  link_->Start();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return link_->up(); }));
  std::optional<std::string> out;
  // Binary-safe, and in order with argv commands around it.
  ASSERT_TRUE(link_->Command({"SET", "k", "1"}, [](redisReply*) {}).ok());
  ASSERT_TRUE(link_
                  ->FormattedCommand(std::string("*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n", 23),
                                     [&](redisReply* r) {
                                       out = r == nullptr ? "<null>" : std::string(r->str, r->len);
                                     })
                  .ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return out.has_value(); }));
  EXPECT_EQ(*out, std::string("a\0b", 3));
  EXPECT_EQ(Run({"GET", "k"}), "1");
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

// A listening socket standing in for Redis: the test reads what the link
// writes, byte for byte, and decides when (and whether) to read.
class FakeRedis {
 public:
  // `rcvbuf` > 0 shrinks the accepted socket's receive buffer (inherited
  // from the listener), so that a large command cannot be taken at once.
  explicit FakeRedis(int rcvbuf = 0) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(listen_fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(listen_fd_, 4) == 0 &&
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~FakeRedis() {
    if (conn_fd_ >= 0) close(conn_fd_);
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  // The link's connection (the kernel completed it; this only picks it up).
  bool Accept() {
    conn_fd_ = accept(listen_fd_, nullptr, nullptr);
    return conn_fd_ >= 0;
  }
  // Everything readable now, without waiting.
  std::string ReadNow() {
    std::string out;
    char buf[65536];
    for (;;) {
      const ssize_t n = recv(conn_fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int listen_fd_ = -1;
  int conn_fd_ = -1;
  uint16_t port_ = 0;
};

class RedisLinkWriteTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    auto loop = EventLoop::Create(GetParam());
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
  }
  void Connect(FakeRedis* fake) {
    ASSERT_NE(fake->port(), 0);
    RedisLinkOptions options;
    options.port = fake->port();
    options.command_timeout = absl::Seconds(30);  // the fake answers nothing
    link_ = std::make_unique<RedisLink>(loop_.get(), options);
    link_->Start();
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return link_->up(); }));
    ASSERT_TRUE(fake->Accept());
  }

  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<RedisLink> link_;
};

TEST_P(RedisLinkWriteTest, ACommandQueuedInATurnIsOnTheWireBeforeTheLoopPollsAgain) {
  FakeRedis fake;
  Connect(&fake);
  std::optional<std::string> seen;
  // As a handler or ClusterPublisher's flush would, from inside a turn; the
  // check is due at once too, so it runs in the same turn, before the next
  // poll (timers due together run in the order they were set).
  loop_->RunAt(loop_->now(), [&](absl::Time now) {
    ASSERT_TRUE(link_->Command({"PING"}, [](redisReply*) {}).ok());
    ASSERT_TRUE(link_->Command({"ECHO", "x"}, [](redisReply*) {}).ok());
    loop_->RunAt(now, [&](absl::Time) { seen = fake.ReadNow(); });
  });
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return seen.has_value(); }));
  EXPECT_EQ(*seen, "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n");
  // The socket took both: no wait for writability.
  EXPECT_EQ(link_->write_waits(), 0u);
}

TEST_P(RedisLinkWriteTest, WaitsForWritabilityOnlyForWhatTheSocketDidNotTake) {
  FakeRedis fake(/*rcvbuf=*/4096);
  Connect(&fake);
  // Far more than the socket buffers hold while the fake does not read.
  const std::string big(8 << 20, 'v');
  ASSERT_TRUE(link_->Command({"SET", "k", big}, [](redisReply*) {}).ok());
  const std::string head = absl::StrCat("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$", big.size(), "\r\n");
  const size_t want = head.size() + big.size() + 2;
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return link_->write_waits() > 0; }));
  EXPECT_EQ(link_->write_waits(), 1u);
  // As the fake reads, EPOLLOUT writes the rest; nothing is lost or reordered.
  std::string got;
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] {
    got += fake.ReadNow();
    return got.size() >= want;
  }));
  ASSERT_EQ(got.size(), want);
  EXPECT_EQ(got.substr(0, head.size()), head);
  EXPECT_EQ(got.find_first_not_of('v', head.size()), want - 2);
  // Drained: the next command goes out at once again.
  ASSERT_TRUE(link_->Command({"PING"}, [](redisReply*) {}).ok());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] {
    got = fake.ReadNow();
    return !got.empty();
  }));
  EXPECT_EQ(got, "*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(link_->write_waits(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Pollers, RedisLinkWriteTest, ::testing::Values("epoll", "poll"));

}  // namespace
}  // namespace muxchat::server
