#include "src/client/cli_options.h"

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/client/server_list.h"
#include "src/wire/host_port.h"

namespace muxchat::client {

absl::StatusOr<CliOptions> ParseCliOptions(const std::vector<std::string>& args) {
  CliOptions o;
  std::vector<std::string> positional;
  bool host_flag = false;
  bool port_flag = false;
  std::optional<std::string> server_list;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      for (++i; i < args.size(); ++i) positional.push_back(args[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    // Fetches the value of a flag that requires one.
    auto value = [&](std::string* out) -> absl::Status {
      if (inline_value.has_value()) {
        *out = *inline_value;
        return absl::OkStatus();
      }
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      *out = args[++i];
      return absl::OkStatus();
    };
    auto no_value = [&]() -> absl::Status {
      if (inline_value.has_value()) return absl::InvalidArgumentError(absl::StrCat(name, " takes no value"));
      return absl::OkStatus();
    };
    absl::Status s;
    std::string v;
    if (name == "--host") {
      s = value(&o.host);
      host_flag = true;
    } else if (name == "--port") {
      s = value(&v);
      if (s.ok()) s = wire::ParsePort(v, &o.port);
      port_flag = true;
    } else if (name == "--server") {
      if (server_list.has_value()) return absl::InvalidArgumentError("--server given twice (list every server in one)");
      s = value(&v);
      if (s.ok()) server_list = v;
    } else if (name == "--nick") {
      s = value(&o.nick);
    } else if (name == "--user") {
      s = value(&o.user);
      if (s.ok() && o.user.empty()) s = absl::InvalidArgumentError("--user needs an account name");
    } else if (name == "--register") {
      s = no_value();
      o.register_account = true;
    } else if (name == "--cursor") {
      s = value(&o.cursor_file);
      if (s.ok() && o.cursor_file.empty()) s = absl::InvalidArgumentError("--cursor needs a file");
    } else if (name == "--no-reconnect") {
      s = no_value();
      o.reconnect = false;
    } else if (name == "--room") {
      s = value(&v);
      if (s.ok()) o.rooms.push_back(v);
    } else if (name == "--send") {
      s = value(&v);
      if (s.ok()) o.sends.push_back(v);
    } else if (name == "--create") {
      o.create = true;
      if (inline_value.has_value()) {
        o.create_room = *inline_value;
      } else if (i + 1 < args.size() && !absl::StartsWith(args[i + 1], "-")) {
        o.create_room = args[++i];
      }
    } else if (name == "--delete") {
      s = value(&o.delete_room);
    } else if (name == "--list") {
      s = no_value();
      o.list = true;
    } else if (name == "--listen") {
      s = no_value();
      o.listen = true;
    } else if (name == "--count") {
      s = value(&v);
      if (s.ok() && (!absl::SimpleAtoi(v, &o.count) || o.count <= 0)) {
        s = absl::InvalidArgumentError(absl::StrCat("invalid --count '", v, "' (expected a positive number)"));
      }
    } else if (name == "--plain") {
      s = no_value();
      o.plain = true;
    } else if (name == "--json") {
      s = no_value();
      o.json = true;
    } else if (name == "--tls") {
      s = no_value();
      o.tls = true;
    } else if (name == "--ca") {
      s = value(&o.ca_file);
      if (s.ok() && o.ca_file.empty()) s = absl::InvalidArgumentError("--ca needs a file");
      o.tls = true;
    } else if (name == "--insecure") {
      s = no_value();
      o.insecure = true;
      o.tls = true;
    } else if (name == "--help" || name == "-h") {
      o.help = true;
    } else if (name == "--version") {
      o.version = true;
    } else {
      s = absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
    }
    if (!s.ok()) return s;
  }
  if (positional.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", positional[2], "'"));
  }
  if (!o.rooms.empty()) o.room = o.rooms.front();
  if (!o.sends.empty()) o.send = o.sends.front();
  if (!positional.empty()) {
    if (host_flag) return absl::InvalidArgumentError("HOST given twice (argument and --host)");
    std::optional<uint16_t> port;
    if (absl::Status s = wire::SplitHostPort(positional[0], &o.host, &port); !s.ok()) return s;
    if (port.has_value()) {
      if (port_flag || positional.size() == 2) {
        return absl::InvalidArgumentError(absl::StrCat("PORT given twice ('", positional[0], "' and ",
                                                       port_flag ? "--port" : absl::StrCat("'", positional[1], "'"), ")"));
      }
      o.port = *port;
    }
  }
  if (positional.size() == 2) {
    if (port_flag) return absl::InvalidArgumentError("PORT given twice (argument and --port)");
    if (absl::Status s = wire::ParsePort(positional[1], &o.port); !s.ok()) return s;
  }
  if (o.host.empty()) return absl::InvalidArgumentError("empty host");
  if (server_list.has_value()) {
    if (!positional.empty() || host_flag || port_flag) {
      return absl::InvalidArgumentError("--server and a HOST/PORT (argument, --host or --port) exclude each other: "
                                        "list every server in --server");
    }
    auto servers = wire::ParseHostPortList(*server_list, o.port);
    if (!servers.ok()) return servers.status();
    o.servers = std::move(*servers);
    o.host = o.servers.front().host;
    o.port = o.servers.front().port;
  } else {
    o.servers = {ServerAddress{o.host, o.port}};
  }
  if (o.create && o.create_room.empty() && o.room.empty()) {
    return absl::InvalidArgumentError("--create needs a room: --create R, or --room R --create");
  }
  if (o.create && !o.create_room.empty() && !o.room.empty() && o.create_room != o.room) {
    return absl::InvalidArgumentError("--create names a different room than --room");
  }
  if ((o.send.has_value() || o.listen) && o.room.empty()) {
    return absl::InvalidArgumentError(o.listen ? "--listen needs --room" : "--send needs --room");
  }
  if (o.rooms.size() > 1 && (o.send.has_value() || o.create)) {
    return absl::InvalidArgumentError(o.create ? "--create goes with one --room" : "--send goes to one room: give one --room");
  }
  if (o.send.has_value() && o.listen) return absl::InvalidArgumentError("--send and --listen exclude each other");
  if (o.count > 0 && !o.listen) return absl::InvalidArgumentError("--count only goes with --listen");
  if (o.register_account && o.user.empty()) return absl::InvalidArgumentError("--register needs --user NAME");
  if (!o.user.empty() && !o.nick.empty()) {
    return absl::InvalidArgumentError("--nick and --user exclude each other (an account's nickname is its name)");
  }
  if (!o.cursor_file.empty() && !o.listen) return absl::InvalidArgumentError("--cursor only goes with --listen");
  if (o.json && !o.listen && !o.list) return absl::InvalidArgumentError("--json only goes with --listen or --list");
  const int actions = (o.list ? 1 : 0) + (o.delete_room.empty() ? 0 : 1) + (o.room.empty() ? 0 : 1);
  if (actions > 1) return absl::InvalidArgumentError("--list, --delete and --room exclude each other");
  if (o.list && o.create) return absl::InvalidArgumentError("--list and --create exclude each other");
  if (!o.delete_room.empty() && o.create) return absl::InvalidArgumentError("--delete and --create exclude each other");
  return o;
}

const char* UsageText() {
  return R"(usage: muxchat [HOST[:PORT] | [V6ADDR]:PORT | HOST PORT] [flags]
       muxchat --server HOST:PORT,HOST:PORT[,...] [flags]

Interactive (stdin is a terminal, no action flag): a full-screen client with
one window per room (status bar of rooms with unread counts, PgUp/PgDn
scrollback, Tab completion, /names); --plain (or TERM=dumb) gives the line
mode instead: a command prompt with CREATE, JOIN, DELETE, LIST, HELP, QUIT,
where JOIN enters chat mode.
  muxchat --room R [--room S]       on a terminal: join R (and S), chat there

Script mode (stdin is not a terminal, or an action flag is given):
  muxchat --room R --send TEXT [--send TEXT2...]
                                    join R, send each TEXT in order, each acknowledged
  muxchat --room R [--create] < FILE  send each line of stdin in order
  muxchat --room R [--room S...] --listen [--count N] [--json]
                                    print messages until Ctrl+C/SIGTERM or N messages
  muxchat --room R --listen --cursor FILE [--user NAME]
                                    as --listen, continuing after the last
                                    run's last message (see --cursor)
  muxchat --list [--json]           list rooms
  muxchat --create R                create room R
  muxchat --delete R                delete room R (owner only)

Flags:
  --host HOST     server host (default 127.0.0.1; or the first argument)
  --port PORT     server port (default 7000; or the second argument)
  --server LIST   several servers of one cluster, comma-separated
                  HOST:PORT / [V6ADDR]:PORT (instead of the address):
                  the first connect tries them in the order given
                  (predictable for scripts; a refused entry is said and
                  the next tried, exit 3 only if all fail); after a lost
                  connection the next one is tried, round robin, with
                  the backoff only after a full pass; the session
                  resumes there and says "reconnected to HOST:PORT".
                  The login token is kept under every entry and found
                  under any, so one node's token is offered to another
  --nick NICK     nickname (interactive: asked for if missing;
                  script: defaults to your login name)
  --user NAME     log in to account NAME instead of as a guest: the
                  password is asked on the terminal without echo (or
                  taken from $MUXCHAT_PASSWORD, never from the command
                  line); the session token is then kept in
                  $XDG_CONFIG_HOME/muxchat/tokens (~/.config/muxchat/tokens,
                  mode 0600) and used next time instead of the password
  --register      create account NAME (with --user), then log in
  --cursor FILE   with --listen: keep the last seq printed per room in
                  FILE and, on the next start, print exactly what came
                  after it (nothing twice, nothing missed within the
                  server's retention)
  --no-reconnect  end on a lost connection (exit 5) instead of
                  reconnecting (interactive and --listen reconnect with
                  backoff from 0.5 s to 30 s and resume their rooms)
  --room R        the room for --send, --listen or stdin lines (repeat
                  it to --listen to several rooms or join several)
  --send TEXT     a message to send (repeat it to send several, in order)
  --create [R]    create the room first if it does not exist
  --json          one JSON object per line (--listen, --list)
  --plain         interactive line mode instead of full screen (screen
                  readers, logs); also chosen when TERM is dumb or unset
  --tls           connect over TLS; the server's certificate is verified
                  against the system CA store and must name HOST
  --ca FILE       trust the CA certificate(s) in FILE instead (implies --tls)
  --insecure      TLS without verifying the server: encrypted, but anyone
                  on the path can pose as it (implies --tls; warns)
  --help          this text

Colour is used only when stdout is a terminal and NO_COLOR is unset.

Exit codes:
  0  ok (also Ctrl+C, Ctrl+D, SIGTERM, QUIT)
  1  unexpected local failure (e.g. timed out waiting for the server)
  2  usage error
  3  connection failure (refused, unreachable, unknown host, TLS
     certificate not trusted or not for HOST; with --server: every entry)
  4  the server refused a request (its reason is printed)
  5  connection lost or server shut down (with --no-reconnect, or
     when the server refuses the session)
)";
}

}  // namespace muxchat::client
