#include "src/client/password_prompt.h"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/status/status.h"
#include "src/client/session_common.h"

namespace muxchat::client {
namespace {

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// Restores the terminal's modes on every way out.
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    active_ = ::tcsetattr(fd_, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (active_) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

}  // namespace

bool PasswordFromEnvironment() { return std::getenv(kPasswordEnv) != nullptr; }

absl::StatusOr<std::string> ReadPassword(const std::string& prompt, int signal_fd) {
  if (const char* env = std::getenv(kPasswordEnv); env != nullptr) return std::string(env);
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) {
    return absl::UnavailableError(
        "no terminal to ask for the password on: set MUXCHAT_PASSWORD (see muxchat --help)");
  }
  std::string password;
  absl::Status status;
  {
    EchoOff quiet(tty);
    WriteAll(tty, prompt);
    for (;;) {
      pollfd fds[2] = {{tty, POLLIN, 0}, {signal_fd, POLLIN, 0}};
      const int n = ::poll(fds, signal_fd >= 0 ? 2 : 1, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || (signal_fd >= 0 && (fds[1].revents & POLLIN))) {
        status = absl::CancelledError("interrupted");
        break;
      }
      char c = 0;
      const ssize_t r = ::read(tty, &c, 1);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0 || c == 4) {  // end of input, or Ctrl+D in raw mode
        status = absl::CancelledError("no password given");
        break;
      }
      if (c == '\n' || c == '\r') break;
      password.push_back(c);
    }
  }
  if (!status.ok()) WriteAll(tty, "\n");
  ::close(tty);
  if (!status.ok()) return status;
  return password;
}

}  // namespace muxchat::client
