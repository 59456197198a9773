// TmuxTerminal: runs the muxchat CLI in a real terminal emulator — a private
// tmux server (its own socket in a temporary directory, no config file) — so
// tests can type keys, paste, resize, and read the screen as a user sees it
// (capture-pane). The CLI runs under `sh -c` that records the terminal's
// modes before and after it (stty -g), its exit code, and then signals a
// tmux wait-for channel, which the test awaits as an event.
//
// tmux offers no event for "the screen now shows X", so WaitForScreen
// re-captures the pane every 20 ms until the predicate holds or the deadline
// passes; every wait has a deadline. Needs the Debian package `tmux`.
#ifndef MUXCHAT_TESTS_CLIENT_TMUX_TERMINAL_H_
#define MUXCHAT_TESTS_CLIENT_TMUX_TERMINAL_H_

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/client/cli_process.h"

namespace muxchat::testing {

// Quotes `s` for sh -c.
inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

class TmuxTerminal {
 public:
  // Starts muxchat with `args` in a `cols`x`rows` terminal. `env` entries
  // (NAME=VALUE) are set for muxchat only.
  TmuxTerminal(const std::vector<std::string>& args, int cols, int rows, std::vector<std::string> env = {}) {
    char dir[] = "/tmp/muxchat-tmux-XXXXXX";
    EXPECT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    socket_ = dir_ + "/sock";
    std::vector<std::string> command = {"env"};
    env.insert(env.begin(), {"LC_ALL=C.UTF-8", "TERM=screen-256color"});
    for (const auto& e : env) command.push_back(e);
    command.push_back(MUXCHAT_PATH);
    command.insert(command.end(), args.begin(), args.end());
    std::vector<std::string> quoted;
    for (const auto& c : command) quoted.push_back(ShellQuote(c));
    // `trap : INT`: Ctrl+C reaches the whole foreground group; the shell
    // survives it to record the exit code, while muxchat (exec resets a
    // caught signal to its default) gets SIGINT as from an interactive shell.
    const std::string script = absl::StrCat(
        "trap : INT; stty -g > ", dir_, "/before; ", absl::StrJoin(quoted, " "), "; echo $? > ", dir_, "/code; stty -g > ",
        dir_, "/after; echo after-exit; tmux -S ", socket_, " wait-for -S done; exec cat");
    EXPECT_EQ(Tmux({"-f", "/dev/null", "new-session", "-d", "-x", absl::StrCat(cols), "-y", absl::StrCat(rows),
                    "sh", "-c", script}),
              0);
    // The server must not shrink or stretch the window on its own.
    Tmux({"set-option", "-g", "window-size", "manual"});
    Tmux({"set-option", "-g", "escape-time", "10"});
  }
  ~TmuxTerminal() {
    // End muxchat while its terminal exists (Ctrl+C), so no client outlives
    // the test half-way through its exit (seen under LeakSanitizer).
    if (!exited_) {
      Keys({"C-c"});
      AwaitExit(absl::Seconds(5));
    }
    Tmux({"kill-server"});
    for (const char* f : {"/before", "/after", "/code", "/paste", "/sock"}) ::unlink((dir_ + f).c_str());
    ::rmdir(dir_.c_str());
  }
  TmuxTerminal(const TmuxTerminal&) = delete;
  TmuxTerminal& operator=(const TmuxTerminal&) = delete;

  // Runs `tmux -S socket args...`; returns its exit code, stdout in `*out`.
  int Tmux(std::vector<std::string> args, std::string* out = nullptr) {
    args.insert(args.begin(), {"tmux", "-u", "-S", socket_});
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("tmux", argv.data());
      _exit(127);
    }
    ::close(pipe_fds[1]);
    std::string text;
    ReadUntil(pipe_fds[0], &text, [] { return false; }, absl::Now() + kWait);
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (out != nullptr) *out = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Keys in tmux's send-keys syntax ("Enter", "C-c", "PPage"); Type sends literal text.
  void Keys(const std::vector<std::string>& keys) {
    std::vector<std::string> args = {"send-keys", "-t", "0"};
    args.insert(args.end(), keys.begin(), keys.end());
    Tmux(args);
  }
  void Type(const std::string& text) { Tmux({"send-keys", "-t", "0", "-l", text}); }
  // Pastes `text` as one burst (like a terminal paste), through a tmux buffer.
  void Paste(const std::string& text) {
    std::ofstream(dir_ + "/paste") << text;
    Tmux({"load-buffer", dir_ + "/paste"});
    Tmux({"paste-buffer", "-d", "-t", "0"});
  }
  void Resize(int cols, int rows) {
    Tmux({"resize-window", "-t", "0", "-x", absl::StrCat(cols), "-y", absl::StrCat(rows)});
  }

  // The screen as text, one string per row (trailing spaces trimmed by tmux);
  // `escapes` keeps the colour/attribute escape sequences.
  std::vector<std::string> Screen(bool escapes = false) {
    std::string out;
    std::vector<std::string> args = {"capture-pane", "-p", "-t", "0"};
    if (escapes) args.push_back("-e");
    Tmux(args, &out);
    std::vector<std::string> rows = absl::StrSplit(out, '\n');
    if (!rows.empty() && rows.back().empty()) rows.pop_back();
    return rows;
  }
  std::string ScreenText(bool escapes = false) { return absl::StrJoin(Screen(escapes), "\n"); }
  // "#{cursor_x}" etc.
  std::string Format(const std::string& format) {
    std::string out;
    Tmux({"display-message", "-p", "-t", "0", format}, &out);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  // Re-captures until `want(screen rows)` holds; false after `timeout`, with
  // the last screen in last_screen().
  template <typename Want>
  bool WaitForScreen(Want want, absl::Duration timeout = kWait, bool escapes = false) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      last_screen_ = Screen(escapes);
      if (want(last_screen_)) return true;
      if (absl::Now() >= deadline) return false;
      ::poll(nullptr, 0, 20);
    }
  }
  bool WaitForText(const std::string& needle, absl::Duration timeout = kWait) {
    return WaitForScreen(
        [&](const std::vector<std::string>& rows) { return absl::StrJoin(rows, "\n").find(needle) != std::string::npos; },
        timeout);
  }
  std::string last_screen() const { return absl::StrJoin(last_screen_, "\n"); }
  const std::vector<std::string>& last_screen_rows() const { return last_screen_; }
  static std::string Printable(const std::string& s) { return PtyProcess::Printable(s); }

  // Waits (an event: tmux wait-for) until muxchat has exited; returns its
  // exit code, or -1 if it did not exit within `timeout`.
  int AwaitExit(absl::Duration timeout = kWait) {
    WaitForChild waiter(socket_);
    if (waiter.ExitCode(timeout) != 0) return -1;
    exited_ = true;
    std::ifstream in(dir_ + "/code");
    int code = -1;
    in >> code;
    return code;
  }
  // True when the terminal's modes after muxchat equal those before it.
  bool TerminalRestored() {
    auto slurp = [&](const char* name) {
      std::ifstream in(dir_ + name);
      std::stringstream s;
      s << in.rdbuf();
      return s.str();
    };
    const std::string before = slurp("/before");
    return !before.empty() && before == slurp("/after");
  }

 private:
  // `tmux wait-for done` as a child process, so its wait has a deadline.
  class WaitForChild : public Child {
   public:
    explicit WaitForChild(const std::string& socket) {
      pid_ = ::fork();
      if (pid_ == 0) {
        ::execlp("tmux", "tmux", "-S", socket.c_str(), "wait-for", "done", static_cast<char*>(nullptr));
        _exit(127);
      }
    }
  };

  std::string dir_;
  std::string socket_;
  std::vector<std::string> last_screen_;
  bool exited_ = false;
};

}  // namespace muxchat::testing

#endif  // MUXCHAT_TESTS_CLIENT_TMUX_TERMINAL_H_
