// Test helper: runs the real `promtool check metrics` (Debian package
// prometheus) on a text exposition and returns its exit code and output.
#ifndef MUXCHAT_TESTS_SERVER_PROMTOOL_H_
#define MUXCHAT_TESTS_SERVER_PROMTOOL_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace muxchat::server::testing {

inline constexpr char kPromtoolPath[] = "/usr/bin/promtool";

inline bool HavePromtool() { return ::access(kPromtoolPath, X_OK) == 0; }

struct PromtoolResult {
  int exit_code = -1;  // 0: valid and lint-clean; 3: lint problems; 1: unparsable
  std::string output;
};

// `promtool check metrics < file`, the exposition written to a temporary file.
inline PromtoolResult PromtoolCheckMetrics(const std::string& exposition) {
  char path[] = "/tmp/muxchat-metrics-XXXXXX";
  const int fd = ::mkstemp(path);
  PromtoolResult result;
  if (fd < 0) return result;
  {
    std::ofstream out(path, std::ios::binary);
    out << exposition;
  }
  ::close(fd);
  const std::string cmd = std::string(kPromtoolPath) + " check metrics < " + path + " 2>&1";
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) result.output.append(buf, n);
    const int status = ::pclose(p);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ::unlink(path);
  return result;
}

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_PROMTOOL_H_
