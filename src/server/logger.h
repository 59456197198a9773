// Concise leveled log lines on stderr ("2026-11-25T08:00:00.123Z I conn 7 ...").
// One Logger per server, passed by pointer; not thread-safe by design (one loop).
#ifndef MUXCHAT_SERVER_LOGGER_H_
#define MUXCHAT_SERVER_LOGGER_H_

#include <cstdio>

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace muxchat::server {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);

class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::kInfo, std::FILE* out = stderr) : level_(level), out_(out) {}

  bool Enabled(LogLevel level) const { return level >= level_; }

  template <typename... Args>
  void Log(LogLevel level, const absl::FormatSpec<Args...>& format, const Args&... args) {
    if (!Enabled(level)) return;
    Write(level, absl::StrFormat(format, args...));
  }

 private:
  void Write(LogLevel level, absl::string_view line);

  LogLevel level_;
  std::FILE* out_;
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_LOGGER_H_
