// Parsing of one line typed at the interactive client: a command (CREATE,
// JOIN, DELETE, LIST, HELP, QUIT, LOGOUT, and in chat mode SWITCH, ROOMS, LEAVE, NAMES, HISTORY), in
// any case, with or without a leading '/'; in chat mode a line without '/'
// is a message ("//text" sends "/text"). Pure functions; safe from any thread.
#ifndef MUXCHAT_CLIENT_COMMAND_PARSER_H_
#define MUXCHAT_CLIENT_COMMAND_PARSER_H_

#include <string>

#include "absl/strings/string_view.h"

namespace muxchat::client {

enum class CommandKind {
  kEmpty,    // blank line: nothing to do
  kMessage,  // chat text to send to the active room (arg = text)
  kCreate,   // arg = room
  kJoin,     // arg = room
  kDelete,   // arg = room
  kLeave,    // arg = room, or empty for the active room
  kSwitch,   // arg = room
  kRooms,
  kNames,    // arg = room, or empty for the active room
  kList,
  kHelp,
  kQuit,
  kHistory,  // arg = how many older messages ("" = the server's page size)
  kLogout,   // revoke the session token (accounts) and quit
  kInvalid,  // arg = a one-line reason to show the user
};

struct Command {
  CommandKind kind = CommandKind::kEmpty;
  std::string arg;
};

// `in_chat`: chat mode, where plain text is a message and commands need '/'.
// Commands that ask the server something: refused while reconnecting
// (chat text is kept and sent once back).
bool NeedsServer(CommandKind kind);

Command ParseCommand(absl::string_view line, bool in_chat);

// Whether the line's first word (any case, '/' optional) names a command, so
// that a window where lines are commands can tell chat typed there from a
// mistyped command.
bool IsCommandWord(absl::string_view line);

// How to name command `verb` to the user: "/join" in chat mode, "JOIN" at
// the command prompt, so hints and errors show the form that works there.
std::string CommandForm(absl::string_view verb, bool in_chat);

// The help text for the prompt (in_chat false) or chat mode (true).
const char* CommandHelp(bool in_chat);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_COMMAND_PARSER_H_
