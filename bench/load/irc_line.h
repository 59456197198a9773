// Parsing one IRC message line (RFC 1459/2812): optional ":prefix", a command
// (word or 3-digit numeric), up to 15 parameters, the last one possibly a
// ":trailing" that may contain spaces. Views into the line. Stateless.
#ifndef MUXCHAT_BENCH_LOAD_IRC_LINE_H_
#define MUXCHAT_BENCH_LOAD_IRC_LINE_H_

#include <cstddef>
#include <vector>

#include "absl/strings/string_view.h"

namespace muxchat::bench {

inline constexpr size_t kIrcMaxLineBytes = 512;  // including the CR LF

struct IrcMessage {
  absl::string_view prefix;   // without the ':'
  absl::string_view command;  // as sent ("PRIVMSG", "001")
  std::vector<absl::string_view> params;  // trailing last, without its ':'
};

// Splits the first line off `in` at LF (a preceding CR is dropped). Returns
// false if `in` has no complete line yet; *consumed is then 0.
bool NextIrcLine(absl::string_view in, absl::string_view* line, size_t* consumed);

// Parses `line` (no CR LF). False if it has no command.
bool ParseIrcLine(absl::string_view line, IrcMessage* msg);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_IRC_LINE_H_
