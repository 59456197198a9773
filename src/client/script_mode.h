// Script mode: the non-interactive CLI for pipelines and other programs —
// --list, --create, --delete, --room R --send TEXT, --room R --listen, and
// `... | muxchat --room R` sending each stdin line in order with a bounded
// window of unacknowledged sends. Diagnostics go to stderr in one line each;
// the result is the process exit code (exit_codes.h).
//
// Thread rule: main thread only. Borrows `signal_fd` for the call.
#ifndef MUXCHAT_CLIENT_SCRIPT_MODE_H_
#define MUXCHAT_CLIENT_SCRIPT_MODE_H_

#include "src/client/cli_options.h"
#include "src/client/message_format.h"

namespace muxchat::client {

// How many sends may await their acknowledgement at once.
inline constexpr size_t kSendWindow = 32;

int RunScript(const CliOptions& options, int signal_fd, const LineStyle& style);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_SCRIPT_MODE_H_
