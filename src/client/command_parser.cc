#include "src/client/command_parser.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace muxchat::client {
namespace {

struct Verb {
  const char* name;
  CommandKind kind;
  enum { kNone, kRequired, kOptional } arg;
};

constexpr Verb kVerbs[] = {
    {"create", CommandKind::kCreate, Verb::kRequired}, {"join", CommandKind::kJoin, Verb::kRequired},
    {"delete", CommandKind::kDelete, Verb::kRequired}, {"leave", CommandKind::kLeave, Verb::kOptional},
    {"switch", CommandKind::kSwitch, Verb::kRequired}, {"rooms", CommandKind::kRooms, Verb::kNone},
    {"list", CommandKind::kList, Verb::kNone},         {"help", CommandKind::kHelp, Verb::kNone},
    {"quit", CommandKind::kQuit, Verb::kNone},         {"exit", CommandKind::kQuit, Verb::kNone},
    {"names", CommandKind::kNames, Verb::kOptional},   {"history", CommandKind::kHistory, Verb::kOptional},
    {"logout", CommandKind::kLogout, Verb::kNone},
};

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// `text`'s first word, after leading spaces and one '/', and what follows it.
void SplitCommandWord(absl::string_view text, absl::string_view* word, absl::string_view* after) {
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(text);
  if (!rest.empty() && rest[0] == '/') rest.remove_prefix(1);
  size_t end = 0;
  while (end < rest.size() && !IsSpace(rest[end])) ++end;
  *word = rest.substr(0, end);
  *after = rest.substr(end);
}

// The verb `word` names, in any case; null if none.
const Verb* FindVerb(absl::string_view word) {
  const std::string lower = absl::AsciiStrToLower(word);
  for (const Verb& verb : kVerbs) {
    if (lower == verb.name) return &verb;
  }
  return nullptr;
}

}  // namespace

Command ParseCommand(absl::string_view line, bool in_chat) {
  // Strip a trailing CR/LF that a terminal or paste may leave.
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
  if (trimmed.empty()) return {CommandKind::kEmpty, ""};
  if (in_chat) {
    if (trimmed[0] != '/') return {CommandKind::kMessage, std::string(line)};
    if (trimmed.size() > 1 && trimmed[1] == '/') {
      // "//text" escapes a message that starts with '/'.
      return {CommandKind::kMessage, std::string(line.substr(line.find('/') + 1))};
    }
  }
  absl::string_view word, after;
  SplitCommandWord(trimmed, &word, &after);
  const absl::string_view arg = absl::StripAsciiWhitespace(after);
  const Verb* verb = FindVerb(word);
  if (verb == nullptr) {
    return {CommandKind::kInvalid, absl::StrCat("unknown command '", word, "' (",
                                                in_chat ? "type /help" : "JOIN a room to chat; type HELP", ")")};
  }
  const std::string form = CommandForm(verb->name, in_chat);
  const bool chat_only = verb->kind == CommandKind::kSwitch || verb->kind == CommandKind::kRooms ||
                         verb->kind == CommandKind::kLeave || verb->kind == CommandKind::kNames ||
                         verb->kind == CommandKind::kHistory;
  if (chat_only && !in_chat) {
    return {CommandKind::kInvalid, absl::StrCat(form, " only works in chat mode (JOIN a room first)")};
  }
  if (verb->arg == Verb::kRequired && arg.empty()) {
    return {CommandKind::kInvalid, absl::StrCat(form, " needs a room name, e.g. ", form, " lobby")};
  }
  if (verb->arg == Verb::kNone && !arg.empty()) {
    return {CommandKind::kInvalid, absl::StrCat(form, " takes no argument")};
  }
  if (verb->kind == CommandKind::kHistory) {
    uint32_t n = 0;
    if (!arg.empty() && (!absl::SimpleAtoi(arg, &n) || n == 0)) {
      return {CommandKind::kInvalid, absl::StrCat(form, " takes a number of messages, e.g. ", form, " 50")};
    }
    return {verb->kind, std::string(arg)};
  }
  if (verb->arg != Verb::kNone) {
    for (char c : arg) {
      if (IsSpace(c)) return {CommandKind::kInvalid, "room names cannot contain spaces"};
    }
  }
  return {verb->kind, std::string(arg)};
}

bool IsCommandWord(absl::string_view line) {
  absl::string_view word, after;
  SplitCommandWord(line, &word, &after);
  return FindVerb(word) != nullptr;
}

std::string CommandForm(absl::string_view verb, bool in_chat) {
  return in_chat ? absl::StrCat("/", absl::AsciiStrToLower(verb)) : absl::AsciiStrToUpper(verb);
}

const char* CommandHelp(bool in_chat) {
  if (!in_chat) {
    return "commands (any case, '/' optional):\n"
           "  CREATE <room>   create a room (you become its owner)\n"
           "  JOIN <room>     join a room and start chatting\n"
           "  DELETE <room>   delete a room you own\n"
           "  LIST            list rooms\n"
           "  HELP            this text\n"
           "  LOGOUT          end the account's session (forget its token) and quit\n"
           "  QUIT            leave (Ctrl+C and Ctrl+D work too)";
  }
  return "type text and Enter to send it to the active room; commands:\n"
         "  /join <room>    join another room and make it active\n"
         "  /switch <room>  make another joined room active\n"
         "  /rooms          rooms you are in\n"
         "  /names [room]   who is in the active (or named) room\n"
         "  /leave [room]   leave the active (or named) room\n"
         "  /list           list all rooms\n"
         "  /history [N]    show N older messages of the active room\n"
         "  /logout         end the account's session (forget its token) and quit\n"
         "  /create <room>, /delete <room>\n"
         "  /help           this text\n"
         "  /quit           leave (Ctrl+C and Ctrl+D work too)\n"
         "  //text          send text starting with '/'";
}

bool NeedsServer(CommandKind kind) {
  switch (kind) {
    case CommandKind::kCreate:
    case CommandKind::kDelete:
    case CommandKind::kList:
    case CommandKind::kJoin:
    case CommandKind::kLeave:
    case CommandKind::kHistory:
    case CommandKind::kLogout:
    case CommandKind::kNames:
      return true;
    default:
      return false;
  }
}

}  // namespace muxchat::client
