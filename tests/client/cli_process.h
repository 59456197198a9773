// Test helpers that run real processes: muxchatd (Daemon), the muxchat CLI
// with piped stdio (CliProcess), and the CLI on a pseudo-terminal (PtyProcess).
// Every wait is poll() on a pipe, pty or pidfd with a deadline — no sleeps.
// MUXCHATD_PATH and MUXCHAT_PATH come from CMake.
#ifndef MUXCHAT_TESTS_CLIENT_CLI_PROCESS_H_
#define MUXCHAT_TESTS_CLIENT_CLI_PROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/client/chat_client.h"
#include "tests/server/http_test_client.h"

namespace muxchat::testing {

inline constexpr absl::Duration kWait = absl::Seconds(10);

inline int PollMs(absl::Time deadline) {
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  return ms < 0 ? 0 : static_cast<int>(ms);
}

// A child process: spawn, signal, wait with a deadline via pidfd.
class Child {
 public:
  Child() = default;
  ~Child() { Kill(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void Signal(int sig) { if (pid_ > 0 && !reaped_) ::kill(pid_, sig); }
  void Kill() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      reaped_ = true;
    }
  }
  // The wait status, or -1 if it did not exit within `timeout`.
  int Wait(absl::Duration timeout) {
    if (reaped_) return status_;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd < 0) return -1;
    pollfd p{pidfd, POLLIN, 0};
    int ready;
    do {
      ready = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    } while (ready < 0 && errno == EINTR);
    ::close(pidfd);
    if (ready != 1) return -1;
    if (::waitpid(pid_, &status_, 0) != pid_) return -1;
    reaped_ = true;
    return status_;
  }
  // Exit code, or -1 on timeout / death by signal.
  int ExitCode(absl::Duration timeout) {
    const int status = Wait(timeout);
    if (status == -1 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
  }
  pid_t pid() const { return pid_; }

 protected:
  static std::vector<char*> Argv(std::string& path, std::vector<std::string>& args) {
    std::vector<char*> argv;
    argv.push_back(path.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return argv;
  }
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Reads from `fd` into `*out` until `done()` holds, EOF, or the deadline.
template <typename Done>
bool ReadUntil(int fd, std::string* out, Done done, absl::Time deadline) {
  while (!done()) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, PollMs(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return done();
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return done();
    out->append(buf, static_cast<size_t>(n));
  }
  return true;
}

// muxchatd on 127.0.0.1 port 0.
class Daemon : public Child {
 public:
  explicit Daemon(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--listen=127.0.0.1:0", "--log_level=warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    // Memory only unless the test gives a data directory (the default would
    // keep state in ./muxchat-data, shared between tests).
    bool has_data_dir = false;
    for (const std::string& a : args) has_data_dir |= a.rfind("--data_dir", 0) == 0 || a == "--memory";
    if (!has_data_dir) args.push_back("--memory");
    int out[2];
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      std::string path = MUXCHATD_PATH;
      auto argv = Argv(path, args);
      ::execv(path.c_str(), argv.data());
      _exit(127);
    }
    ::close(out[1]);
    std::string line;
    ReadUntil(out[0], &line, [&] { return line.find('\n') != std::string::npos; }, absl::Now() + kWait);
    ::close(out[0]);
    const size_t colon = line.rfind(':');
    uint32_t port = 0;
    if (colon != std::string::npos && absl::SimpleAtoi(line.substr(colon + 1), &port)) port_ = port;
    EXPECT_NE(port_, 0) << "muxchatd start-up line: " << line;
  }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
};

// muxchat with stdin, stdout and stderr on pipes.
class CliProcess : public Child {
 public:
  explicit CliProcess(std::vector<std::string> args, std::vector<std::string> env = {}) {
    int in[2], out[2], err[2];
    EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::string path = MUXCHAT_PATH;
      auto argv = Argv(path, args);
      ::execv(path.c_str(), argv.data());
      _exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    stderr_ = err[0];
  }
  ~CliProcess() {
    CloseStdin();
    ::close(stdout_);
    ::close(stderr_);
  }

  void Write(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(stdin_, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      ASSERT_GT(n, 0);
      done += static_cast<size_t>(n);
    }
  }
  void CloseStdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }
  // Reads stdout until it holds `count` lines (or the deadline).
  bool ReadLines(size_t count, absl::Duration timeout) {
    auto lines = [&] { return static_cast<size_t>(std::count(out_.begin(), out_.end(), '\n')) >= count; };
    return ReadUntil(stdout_, &out_, lines, absl::Now() + timeout);
  }
  // Waits for exit and collects the rest of stdout and stderr; returns the exit code (-1 on timeout).
  int Finish(absl::Duration timeout = kWait) {
    // Stdout is drained until EOF first: a child writing more than a pipe
    // holds (a long --list) would otherwise never exit.
    ReadUntil(stdout_, &out_, [] { return false; }, absl::Now() + timeout);
    const int code = ExitCode(timeout);
    const absl::Time deadline = absl::Now() + absl::Seconds(2);
    ReadUntil(stdout_, &out_, [] { return false; }, deadline);
    ReadUntil(stderr_, &err_, [] { return false; }, deadline);
    return code;
  }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  std::string out_, err_;
};

// muxchat on a pseudo-terminal (forkpty), 200x50 unless told, TERM=xterm, in
// the line mode (--plain; the full-screen mode is tested through tmux).
class PtyProcess : public Child {
 public:
  explicit PtyProcess(std::vector<std::string> args, bool colour = false, unsigned short cols = 200,
                      std::vector<std::string> env = {}) {
    args.insert(args.begin(), "--plain");
    winsize ws{};
    ws.ws_row = 50;
    ws.ws_col = cols;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      ::setenv("TERM", "xterm", 1);
      if (colour) {
        ::unsetenv("NO_COLOR");
      } else {
        ::setenv("NO_COLOR", "1", 1);
      }
      for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::string path = MUXCHAT_PATH;
      auto argv = Argv(path, args);
      ::execv(path.c_str(), argv.data());
      _exit(127);
    }
    EXPECT_GT(pid_, 0);
    ::fcntl(master_, F_SETFD, FD_CLOEXEC);
    slave_name_ = ::ptsname(master_);
  }
  ~PtyProcess() {
    Kill();
    ::close(master_);
  }

  // Writes `keys` to the terminal, reading the client's output meanwhile (a
  // long paste must not deadlock against a client blocked on its output).
  void Type(const std::string& keys) {
    size_t done = 0;
    const absl::Time deadline = absl::Now() + kWait;
    const int flags = ::fcntl(master_, F_GETFL);
    ::fcntl(master_, F_SETFL, flags | O_NONBLOCK);
    struct Restore {
      int fd, flags;
      ~Restore() { ::fcntl(fd, F_SETFL, flags); }
    } restore{master_, flags};
    while (done < keys.size()) {
      pollfd p{master_, POLLIN | POLLOUT, 0};
      const int ready = ::poll(&p, 1, PollMs(deadline));
      if (ready < 0 && errno == EINTR) continue;
      ASSERT_GT(ready, 0) << "terminal not writable in time";
      if (p.revents & POLLIN) {
        char buf[4096];
        const ssize_t n = ::read(master_, buf, sizeof buf);
        if (n > 0) out_.append(buf, static_cast<size_t>(n));
      }
      if (p.revents & POLLOUT) {
        const ssize_t n = ::write(master_, keys.data() + done, std::min<size_t>(keys.size() - done, 1024));
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        ASSERT_GT(n, 0);
        done += static_cast<size_t>(n);
      }
    }
  }

  // Resizes the terminal; the kernel sends the client SIGWINCH.
  void Resize(unsigned short cols, unsigned short rows = 50) {
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = cols;
    ASSERT_EQ(::ioctl(master_, TIOCSWINSZ, &ws), 0);
  }

  // Waits until `needle` appears in the output after the mark, then moves the
  // mark past it. On failure, the output since the mark is in failure().
  bool Expect(const std::string& needle, absl::Duration timeout = kWait) {
    size_t at = std::string::npos;
    ReadUntil(master_, &out_, [&] { return (at = out_.find(needle, mark_)) != std::string::npos; },
              absl::Now() + timeout);
    if (at == std::string::npos) {
      failure_ = "expected '" + needle + "' in: " + Printable(out_.substr(mark_));
      return false;
    }
    mark_ = at + needle.size();
    return true;
  }
  const std::string& failure() const { return failure_; }
  const std::string& output() const { return out_; }
  size_t mark() const { return mark_; }

  // The terminal's local modes now (the pty keeps them after the child exits).
  tcflag_t LocalModes() const {
    const int fd = ::open(slave_name_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    termios t{};
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::tcgetattr(fd, &t), 0);
    ::close(fd);
    return t.c_lflag;
  }

  static std::string Printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
      if (c == '\n') {
        out += "\\n\n";
      } else if (c < 0x20 || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    return out;
  }

 private:
  int master_ = -1;
  std::string slave_name_;
  std::string out_;
  size_t mark_ = 0;
  std::string failure_;
};

// A library client logged in as `nick`: the other side of a conversation
// with the CLI under test.
inline std::unique_ptr<client::ChatClient> Login(uint16_t port, const std::string& nick) {
  auto c = client::ChatClient::Connect("127.0.0.1", port, kWait);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return nullptr;
  EXPECT_TRUE((*c)->Hello(nick, kWait).ok());
  return std::move(*c);
}

// The message texts of --listen's output lines ("... <nick> text"), in order.
inline std::vector<std::string> ListenedTexts(const std::string& out) {
  std::vector<std::string> texts;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    const size_t at = line.rfind("> ");
    if (at != absl::string_view::npos) texts.emplace_back(line.substr(at + 2));
  }
  return texts;
}

// Waits up to kWait for an event satisfying `want`, skipping others.
template <typename Want>
bool AwaitEvent(client::ChatClient& c, Want want) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    auto ev = c.NextEvent(deadline - absl::Now());
    if (!ev.ok()) return false;
    if (want(*ev)) return true;
  }
  return false;
}

// Waits until the muxchatd on `port` has closed `count` connections for not
// logging in within its --handshake_timeout (its /metrics counter says so):
// the event a test of a slow prompt waits for, instead of sleeping.
inline bool AwaitLoginTimeouts(uint16_t port, int count, absl::Duration timeout = kWait) {
  const std::string series = "muxchat_connections_closed_total{reason=\"timeout\"} ";
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto reply = server::testing::HttpGet(port, "/metrics");
    if (reply.ok()) {
      absl::string_view body = reply->body;
      const size_t at = body.find(series);
      int closed = 0;
      if (at != absl::string_view::npos) {
        body.remove_prefix(at + series.size());
        if (absl::SimpleAtoi(body.substr(0, body.find('\n')), &closed) && closed >= count) return true;
      }
    }
    absl::SleepFor(absl::Milliseconds(20));  // polling a counter, not a guess at a duration
  }
  return false;
}

}  // namespace muxchat::testing

#endif  // MUXCHAT_TESTS_CLIENT_CLI_PROCESS_H_
