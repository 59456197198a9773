#include "src/server/logger.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace muxchat::server {

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  if (name == "off") return LogLevel::kOff;
  return absl::InvalidArgumentError(absl::StrCat("unknown log level '", name, "' (debug, info, warn, error, off)"));
}

void Logger::Write(LogLevel level, absl::string_view line) {
  static constexpr char kLetters[] = {'D', 'I', 'W', 'E'};
  const std::string stamp = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::fprintf(out_, "%s %c %.*s\n", stamp.c_str(), kLetters[static_cast<int>(level)],
               static_cast<int>(line.size()), line.data());
}

}  // namespace muxchat::server
