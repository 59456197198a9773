#include "bench/load/cpu_usage.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace muxchat::bench {

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

absl::StatusOr<double> ProcessCpuSeconds(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/stat"));
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // The command name (field 2) may contain spaces and parentheses: fields
  // are counted after the last ')'. There, field 3 (state) is token 0, so
  // utime (14) and stime (15) are tokens 11 and 12.
  const size_t close = all.rfind(')');
  if (close == std::string::npos) return absl::NotFoundError(absl::StrCat("no process ", pid));
  std::istringstream rest(all.substr(close + 1));
  std::string tok;
  unsigned long long utime = 0, stime = 0;
  for (int i = 0; i <= 12 && rest >> tok; ++i) {
    if (i == 11) utime = std::stoull(tok);
    if (i == 12) stime = std::stoull(tok);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace muxchat::bench
