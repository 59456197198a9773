// CliOptions: the muxchat command line, parsed by a pure function so it can be
// unit tested. A hand-written parser rather than absl flags because `--create`
// is both a switch (`--room R --create --send T`) and an action taking a room
// (`--create R`), which absl's typed flags cannot express.
// Pure functions; safe from any thread.
#ifndef MUXCHAT_CLIENT_CLI_OPTIONS_H_
#define MUXCHAT_CLIENT_CLI_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "src/client/client_stream.h"
#include "src/client/server_list.h"

namespace muxchat::client {

struct CliOptions {
  // Where to connect: every --server entry in order, or the one HOST:PORT
  // (positional, --host/--port). Never empty after ParseCliOptions; `host`
  // and `port` are then its first entry.
  std::vector<ServerAddress> servers;
  std::string host = "127.0.0.1";
  uint16_t port = 7000;
  std::string nick;                   // empty: ask (interactive) or the login name (script)
  std::string user;                   // --user NAME: log in to this account (password or kept token)
  bool register_account = false;      // --register: create the --user account first
  std::string cursor_file;            // --cursor FILE: --listen continues where the last run stopped
  bool reconnect = true;              // --no-reconnect: end on a lost connection instead
  std::string room;                   // the first --room (rooms[0]), empty if none
  std::vector<std::string> rooms;     // every --room, in order
  std::optional<std::string> send;    // the first --send TEXT (sends[0])
  std::vector<std::string> sends;     // every --send, in order
  bool create = false;                // --create (with or without a room)
  std::string create_room;            // --create R (the room, if given there)
  std::string delete_room;            // --delete R
  bool list = false;                  // --list
  bool listen = false;                // --listen
  int64_t count = 0;                  // --count N (0: no limit)
  bool json = false;                  // --json
  bool plain = false;                 // --plain: line mode instead of full screen
  bool tls = false;                   // --tls (also implied by --ca and --insecure)
  std::string ca_file;                // --ca FILE: trusted CA(s); empty: system store
  bool insecure = false;              // --insecure: TLS without verifying the server
  bool help = false;                  // --help / -h
  bool version = false;               // --version

  // `servers`, or {host, port} for options not made by ParseCliOptions.
  std::vector<ServerAddress> ServerList() const {
    return servers.empty() ? std::vector<ServerAddress>{ServerAddress{host, port}} : servers;
  }

  // The client library's TLS settings for these flags.
  ClientTlsOptions TlsOptions() const {
    ClientTlsOptions t;
    t.enabled = tls;
    t.ca_file = ca_file;
    t.insecure = insecure;
    return t;
  }

  // True if any flag asks for a scripted action (script mode, except that
  // --room alone on a terminal opens the interactive client in that room).
  bool HasAction() const {
    return send.has_value() || create || !delete_room.empty() || list || listen || !room.empty();
  }
  // True if the only action is --room (one or more): on a terminal, the
  // interactive client joins those rooms.
  bool OnlyJoins() const {
    return !rooms.empty() && !send.has_value() && !create && delete_room.empty() && !list && !listen;
  }
};

// Parses argv[1..]: `[HOST [PORT]]` positionals (HOST may be HOST:PORT,
// [v6addr]:PORT or [v6addr]) or `--server LIST` (not both), and the flags in
// UsageText().
// Flags accept `--flag=value` and `--flag value`. kInvalidArgument with a
// one-line explanation for anything malformed or contradictory.
absl::StatusOr<CliOptions> ParseCliOptions(const std::vector<std::string>& args);

// The `--help` text, exit codes included.
const char* UsageText();

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_CLI_OPTIONS_H_
