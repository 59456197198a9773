// TerminalUi: the interactive client's terminal — line editing and history
// through libedit's readline-compatible callback interface (driven from the
// caller's poll loop: call OnReadable() when stdin is readable), and output
// that may arrive at any time without garbling the line being typed: Print()
// erases the prompt and partial input, prints, then has libedit redraw both.
//
// Thread rule: main thread only; at most one TerminalUi may exist (libedit's
// readline emulation is global state). Stop() (or the destructor) restores
// the terminal's original termios.
#ifndef MUXCHAT_CLIENT_TERMINAL_UI_H_
#define MUXCHAT_CLIENT_TERMINAL_UI_H_

#include <termios.h>

#include <deque>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace muxchat::client {

class TerminalUi {
 public:
  TerminalUi();
  ~TerminalUi();
  TerminalUi(const TerminalUi&) = delete;
  TerminalUi& operator=(const TerminalUi&) = delete;

  // Shows `prompt` and starts reading lines. stdin and stdout must be a terminal.
  void Start(const std::string& prompt);
  // Changes the prompt and redraws it with the partial input.
  void SetPrompt(const std::string& prompt);
  // Reads what stdin has (one key); completed lines are queued for TakeLine.
  void OnReadable();
  // Next completed line: true and `*line` set (nullopt = end of input, i.e.
  // Ctrl+D on an empty line), or false when none is queued.
  bool TakeLine(std::optional<std::string>* line);
  // Prints `text` (one or more lines, no trailing newline needed) above the
  // prompt, then redraws the prompt and the partial input as they were.
  void Print(absl::string_view text);
  // Removes the line handler and restores the terminal. Idempotent.
  void Stop();

 private:
  static void OnLine(char* line);

  bool started_ = false;
  bool have_termios_ = false;
  termios original_{};
  std::string prompt_;
  std::deque<std::optional<std::string>> lines_;
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_TERMINAL_UI_H_
