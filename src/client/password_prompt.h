// The account password for `muxchat --user`: from $MUXCHAT_PASSWORD (for
// scripts; never from argv, where other users could read it), else asked on
// the controlling terminal (/dev/tty) with echo off, the terminal's modes
// restored afterwards whatever happens.
//
// Thread rule: main thread only. Borrows `signal_fd` (the CLI's quit signals)
// for the call: a Ctrl+C at the prompt returns kCancelled.
#ifndef MUXCHAT_CLIENT_PASSWORD_PROMPT_H_
#define MUXCHAT_CLIENT_PASSWORD_PROMPT_H_

#include <string>

#include "absl/status/statusor.h"

namespace muxchat::client {

inline constexpr const char* kPasswordEnv = "MUXCHAT_PASSWORD";

// True if $MUXCHAT_PASSWORD is set (then asking again after a refusal is pointless).
bool PasswordFromEnvironment();

// The password; kCancelled on a quit signal or end of input, kUnavailable
// without an environment password and without a terminal to ask on.
absl::StatusOr<std::string> ReadPassword(const std::string& prompt, int signal_fd);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_PASSWORD_PROMPT_H_
