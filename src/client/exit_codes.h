// The muxchat CLI's process exit codes, shared by cli_main, the modes and the
// tests. Documented in `muxchat --help` and the README.
#ifndef MUXCHAT_CLIENT_EXIT_CODES_H_
#define MUXCHAT_CLIENT_EXIT_CODES_H_

namespace muxchat::client {

enum ExitCode : int {
  kExitOk = 0,               // done; also Ctrl+C / Ctrl+D / SIGTERM / QUIT
  kExitInternal = 1,         // unexpected local failure (e.g. a timeout waiting for the server)
  kExitUsage = 2,            // bad flags or arguments
  kExitConnectFailed = 3,    // could not connect (refused, unreachable, unknown host)
  kExitRefused = 4,          // the server refused a request (missing room, not the owner, nick taken...)
  kExitConnectionLost = 5,   // the server shut down or the connection dropped
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_EXIT_CODES_H_
