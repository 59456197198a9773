// Test helper: the real muxchatd binary as a child process (after the Daemon
// in muxchatd_test.cc): started with flags, its port read from the start-up
// line, stopped by PID with a signal and waited for through a pidfd.
// MUXCHATD_PATH comes from CMake.
#ifndef MUXCHAT_TESTS_SERVER_MUXCHATD_PROCESS_H_
#define MUXCHAT_TESTS_SERVER_MUXCHATD_PROCESS_H_

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"

namespace muxchat::server::testing {

class MuxchatdProcess {
 public:
  explicit MuxchatdProcess(std::vector<std::string> args) {
    int out[2];
    if (::pipe(out) != 0) return;
    std::string path = MUXCHATD_PATH;
    // Memory only unless the test gives a data directory: muxchatd's default
    // would keep state in ./muxchat-data, shared between tests.
    bool has_data_dir = false;
    for (const std::string& a : args) has_data_dir |= a.rfind("--data_dir", 0) == 0 || a == "--memory";
    if (!has_data_dir) args.push_back("--memory");
    std::vector<char*> argv;
    argv.push_back(path.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execv(path.c_str(), argv.data());
      _exit(127);
    }
    ::close(out[1]);
    stdout_ = ::fdopen(out[0], "r");
  }
  ~MuxchatdProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdout_ != nullptr) std::fclose(stdout_);
  }
  MuxchatdProcess(const MuxchatdProcess&) = delete;
  MuxchatdProcess& operator=(const MuxchatdProcess&) = delete;

  // Reads "muxchatd listening on HOST:PORT" and returns the port (0 if none).
  uint16_t ReadPort() {
    char line[256];
    if (stdout_ == nullptr || std::fgets(line, sizeof line, stdout_) == nullptr) return 0;
    first_line_ = line;
    const size_t colon = first_line_.rfind(':');
    uint32_t port = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(first_line_.substr(colon + 1), &port)) return 0;
    return static_cast<uint16_t>(port);
  }

  void Signal(int sig) { ::kill(pid_, sig); }

  // The wait status once it exits within `timeout`, else -1.
  int Wait(absl::Duration timeout) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd < 0) return -1;
    pollfd p{pidfd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    ::close(pidfd);
    int status = 0;
    if (ready != 1 || ::waitpid(pid_, &status, 0) != pid_) return -1;
    reaped_ = true;
    return status;
  }

  const std::string& first_line() const { return first_line_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  FILE* stdout_ = nullptr;
  std::string first_line_;
};

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_MUXCHATD_PROCESS_H_
