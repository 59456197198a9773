// Completer: Tab completion for the full-screen client's input line. The
// word before the cursor is completed from commands (a first word starting
// with '/'), room names (the argument of /join, /switch, /leave, /delete,
// /names, /create, /win) or nicknames (anywhere else; a nick at the start of
// the line gets ": " after it, irssi style; nothing is added when text
// follows the cursor). Several matches: the first is
// inserted and each further Tab replaces it by the next, in order.
//
// Thread rule: one thread. Holds only the state of the current Tab cycle.
#ifndef MUXCHAT_CLIENT_COMPLETION_H_
#define MUXCHAT_CLIENT_COMPLETION_H_

#include <cstddef>
#include <string>
#include <vector>

namespace muxchat::client {

struct CompletionSources {
  std::vector<std::string> commands;  // with the leading '/', e.g. "/join"
  std::vector<std::string> rooms;
  std::vector<std::string> nicks;
};

class Completer {
 public:
  // Completes the word before `*cursor` in `*text`, or continues the cycle if
  // the previous call completed and nothing changed since. Returns false
  // (text untouched) when nothing matches.
  bool Complete(std::u32string* text, size_t* cursor, const CompletionSources& sources);
  // Ends the cycle; the next Tab starts from what is typed.
  void Reset() { cycling_ = false; }
  // Ends the cycle and, if the text is still as the last Complete left it,
  // puts back what was typed before the first Tab; returns true then.
  bool Cancel(std::u32string* text, size_t* cursor);

 private:
  bool cycling_ = false;
  size_t start_ = 0;                   // where the completed word begins
  std::vector<std::u32string> matches_;
  size_t index_ = 0;
  std::u32string suffix_;
  std::u32string after_;               // the text after the cursor, kept as it was
  std::u32string result_;              // the text as the last call left it
  size_t result_cursor_ = 0;
  std::u32string original_;            // the text before the cycle's first Tab
  size_t original_cursor_ = 0;
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_COMPLETION_H_
