// Test helper: a real redis-server (Debian package redis-server) as a child
// process on a loopback port, without persistence (save "", appendonly no),
// so that a restart loses everything as a crashed cache would. Ready when it
// logs "Ready to accept connections"; killed (SIGKILL, a crash) or stopped
// (SIGTERM) by its PID and reaped; SIGSTOP/SIGCONT to play a wedged server.
// Also RedisTest, a fixture base with a fresh one and an epoll loop per
// test; the options every test's link or cluster uses to reach it; and
// RunLoopUntil, which turns an EventLoop into "run until this holds".
#ifndef MUXCHAT_TESTS_SERVER_REDIS_PROCESS_H_
#define MUXCHAT_TESTS_SERVER_REDIS_PROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/server/cluster_publisher.h"
#include "src/server/event_loop.h"
#include "src/server/redis_link.h"
#include "tests/server/prometheus_process.h"  // PickFreeLoopbackPort

namespace muxchat::server::testing {

inline constexpr char kRedisServerPath[] = "/usr/bin/redis-server";

inline bool HaveRedisServer() { return ::access(kRedisServerPath, X_OK) == 0; }

class RedisProcess {
 public:
  RedisProcess() = default;
  ~RedisProcess() { Kill(); }
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  // Starts on a free port (retrying if another process takes it first).
  absl::Status Start() {
    absl::Status last = absl::UnavailableError("no free port");
    for (int attempt = 0; attempt < 3; ++attempt) {
      const uint16_t port = PickFreeLoopbackPort();
      if (port == 0) continue;
      last = StartOn(port);
      if (last.ok()) return last;
    }
    return last;
  }

  // Starts on `port` (a restart on the port it had).
  absl::Status StartOn(uint16_t port) {
    Kill();
    port_ = port;
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe");
    std::vector<std::string> args = {kRedisServerPath, "--port", absl::StrCat(port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--daemonize", "no",
                                     "--logfile", "", "--loglevel", "notice", "--protected-mode", "no"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(out[1], STDERR_FILENO);
      ::execv(kRedisServerPath, argv.data());
      _exit(127);
    }
    ::close(out[1]);
    if (pid_ < 0) {
      ::close(out[0]);
      return absl::InternalError("fork");
    }
    // Read its log until the ready line (or EOF: it exited, e.g. port taken).
    std::string log;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    bool ready = false;
    while (!ready && absl::Now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      const int left_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (::poll(&p, 1, std::max(left_ms, 1)) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      log.append(buf, static_cast<size_t>(n));
      ready = absl::StrContains(log, "Ready to accept connections");
    }
    // Later log lines go nowhere (Redis ignores SIGPIPE).
    ::close(out[0]);
    if (!ready) {
      Kill();
      return absl::UnavailableError(absl::StrCat("redis-server on port ", port, " not ready; its log:\n", log));
    }
    return absl::OkStatus();
  }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // SIGKILL by PID, reaped: a crash (no clean shutdown, nothing saved).
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);  // in case it was stopped
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  void Pause() { ::kill(pid_, SIGSTOP); }
  void Resume() { ::kill(pid_, SIGCONT); }

 private:
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// A fixture base: a fresh redis-server (redis_) and an epoll loop (loop_)
// for every test, skipped where redis-server is not installed. A derived
// SetUp calls this one first and returns if IsSkipped() || HasFatalFailure().
// Members are destroyed after the derived fixture's: the loop outlives what
// runs on it, Redis outlives the loop.
class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveRedisServer()) GTEST_SKIP() << "redis-server not installed (scripts/install-deps.sh)";
    const absl::Status started = redis_.Start();
    ASSERT_TRUE(started.ok()) << started;
    auto loop = EventLoop::Create("epoll");
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
  }

  RedisProcess redis_;
  std::unique_ptr<EventLoop> loop_;
};

// Options for a test's RedisLink to the redis-server on `port`. The command
// timeout is 15 s, not the 2 s default: a loaded CI machine can hold a reply
// that long, and the tests using these are not about the watchdog.
inline RedisLinkOptions TestRedisLinkOptions(uint16_t port) {
  RedisLinkOptions options;
  options.port = port;
  options.command_timeout = absl::Seconds(15);
  return options;
}

// The same link, as a cluster's options, with the key prefix "t".
inline ClusterOptions TestClusterOptions(uint16_t port) {
  ClusterOptions options;
  options.redis = TestRedisLinkOptions(port);
  options.key_prefix = "t";
  return options;
}

// Runs `loop` until `done()` holds (checked at the start of every turn, so
// right after the event that made it true) or `timeout` passes. Returns
// whether `done()` held. Replaces the loop's before-poll hook.
inline bool RunLoopUntil(EventLoop* loop, absl::AnyInvocable<bool()> done,
                         absl::Duration timeout = absl::Seconds(20)) {
  bool held = false;
  loop->SetBeforePoll([&](absl::Time) {
    if (done()) {
      held = true;
      loop->Quit();
    }
  });
  const EventLoop::TimerId deadline = loop->RunAt(absl::Now() + timeout, [&](absl::Time) { loop->Quit(); });
  (void)loop->Run();
  loop->Cancel(deadline);
  loop->SetBeforePoll(nullptr);
  return held;
}

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_REDIS_PROCESS_H_
