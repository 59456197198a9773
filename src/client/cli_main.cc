// muxchat: the command-line chat client. Parses flags, blocks the quit
// signals into a signalfd that both modes poll, and dispatches to the
// interactive session (stdin is a terminal, no action flag) or script mode.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/client/cli_options.h"
#include "src/client/exit_codes.h"
#include "src/client/fullscreen_session.h"
#include "src/client/fullscreen_ui.h"
#include "src/client/interactive_session.h"
#include "src/client/message_format.h"
#include "src/client/script_mode.h"

namespace muxchat::client {
namespace {

int Main(int argc, char** argv) {
  auto options = ParseCliOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::fprintf(stderr, "muxchat: %s (see muxchat --help)\n", std::string(options.status().message()).c_str());
    return kExitUsage;
  }
  if (options->help) {
    std::fputs(UsageText(), stdout);
    return kExitOk;
  }
  if (options->version) {
    std::puts("muxchat 0.1 (protocol 1)");
    return kExitOk;
  }
  if (options->insecure) {
    std::fprintf(stderr, "muxchat: warning: --insecure: the server's certificate is not verified; anyone on the "
                         "path can pose as the server and read this session\n");
  }
  // `--room R` alone on a terminal opens the interactive client in R.
  const bool interactive = ::isatty(STDIN_FILENO) && (!options->HasAction() || options->OnlyJoins());
  if (!interactive && !options->HasAction()) {
    std::fprintf(stderr, "muxchat: stdin is not a terminal: give --room R (or --list, --create R, --delete R); "
                         "see muxchat --help\n");
    return kExitUsage;
  }
  if (!interactive && options->rooms.size() > 1 && !options->listen) {
    std::fprintf(stderr, "muxchat: lines from stdin go to one room: give one --room (several only with --listen, "
                         "or on a terminal); see muxchat --help\n");
    return kExitUsage;
  }

  // SIGINT/SIGTERM/SIGHUP arrive through a signalfd in the poll loop, never
  // as handlers: a quit is handled at a safe point, at once.
  sigset_t quit;
  sigemptyset(&quit);
  sigaddset(&quit, SIGINT);
  sigaddset(&quit, SIGTERM);
  sigaddset(&quit, SIGHUP);
  ::sigprocmask(SIG_BLOCK, &quit, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  const int signal_fd = ::signalfd(-1, &quit, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) {
    std::perror("muxchat: signalfd");
    return kExitInternal;
  }

  LineStyle style;
  const char* no_color = std::getenv("NO_COLOR");
  style.colour = ::isatty(STDOUT_FILENO) && (no_color == nullptr || no_color[0] == '\0');
  style.zone = absl::LocalTimeZone();

  int code;
  // Full screen by default; the line mode for --plain and for terminals that
  // cannot address the cursor.
  const char* term = std::getenv("TERM");
  const bool fullscreen = interactive && !options->plain && ::isatty(STDOUT_FILENO) && term != nullptr &&
                          term[0] != '\0' && std::string(term) != "dumb" && FullscreenUi::TerminalSupported();
  if (fullscreen) {
    FullscreenSession session(*options, signal_fd, style);
    code = session.Run();
  } else if (interactive) {
    InteractiveSession session(*options, signal_fd, style);
    code = session.Run();
  } else {
    code = RunScript(*options, signal_fd, style);
  }
  std::fflush(stdout);
  ::close(signal_fd);
  return code;
}

}  // namespace
}  // namespace muxchat::client

int main(int argc, char** argv) { return muxchat::client::Main(argc, argv); }
