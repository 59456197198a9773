// TerminalUi: the line-mode client's terminal. Puts the terminal in raw mode
// (keeping ISIG, so Ctrl+C still arrives as SIGINT through the caller's
// signalfd), turns on bracketed paste, feeds every byte stdin has to a
// LineEditor, and keeps a "live area" at the bottom of the screen: the
// pending (not yet confirmed) messages, then the prompt and the input line,
// which may wrap over several rows. Output that arrives at any time goes
// above it: Print() erases the live area, prints, and redraws it.
//
// Resizing: SIGWINCH arrives on resize_fd() (a signalfd this class owns);
// OnResize() erases the live area as the terminal has re-wrapped it and
// redraws it for the new width. This assumes a terminal that reflows wrapped
// lines on resize (tmux, VTE, kitty, iTerm2, Windows Terminal...); xterm,
// which does not, may keep a stale row of the old input after a resize.
//
// Thread rule: main thread only; at most one TerminalUi should be started at a
// time (it owns the terminal's modes). Stop() (or the destructor) restores the
// original termios and turns bracketed paste off.
#ifndef MUXCHAT_CLIENT_TERMINAL_UI_H_
#define MUXCHAT_CLIENT_TERMINAL_UI_H_

#include <termios.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "src/client/line_editor.h"

namespace muxchat::client {

class TerminalUi {
 public:
  TerminalUi() = default;
  ~TerminalUi();
  TerminalUi(const TerminalUi&) = delete;
  TerminalUi& operator=(const TerminalUi&) = delete;

  // Shows `prompt` and starts reading keys. stdin and stdout must be a terminal.
  void Start(const std::string& prompt);
  // Changes the prompt and redraws it with the partial input.
  void SetPrompt(const std::string& prompt);
  // Reads what stdin has (all of a paste that is already there, up to 1 MiB
  // per call), edits, and redraws once.
  void OnReadable();
  // Next submitted text: true and `*line` set (nullopt = end of input:
  // Ctrl+D, or the terminal went away), or false when none is queued. A
  // multi-line paste comes as one text with '\n' between its lines.
  bool TakeLine(std::optional<std::string>* line);
  // Puts `text` back on the input line (a line the caller refused to send).
  void SetInput(std::string text);
  // The text on the input line now.
  const std::string& input() const { return editor_.buffer(); }
  // Prints `text` (one or more lines, no trailing newline needed) above the
  // live area, then redraws the live area as it was.
  void Print(absl::string_view text);
  // Lines shown between the output and the prompt until replaced (messages
  // sent but not yet confirmed). Each is shown on one row, cut to fit.
  void SetPending(std::vector<std::string> lines);
  // While an ESC read from stdin waits to be told from an escape sequence:
  // milliseconds until OnEscapeTimeout() should be called (poll stdin at
  // most this long); -1 when none waits. kEscapeDelayMillis after the last
  // read: a terminal sends a sequence in one write, a person types slower.
  static constexpr int kEscapeDelayMillis = 40;
  int EscapeTimeoutMillis() const;
  // The wait is over: a lone Esc (it does nothing in the line mode), and
  // what followed it is taken as typed keys.
  void OnEscapeTimeout();
  // A signalfd that becomes readable when the terminal is resized; -1 before
  // Start(). Call OnResize() then.
  int resize_fd() const { return resize_fd_; }
  void OnResize();
  // Erases the live area and restores the terminal. Idempotent.
  void Stop();

 private:
  // The live area as drawn last, enough to erase it after a resize too.
  struct Drawn {
    std::vector<std::string> pending;  // as written (colour escapes stripped)
    std::string input;                 // prompt + visible input, as written
    size_t cursor_byte = 0;            // the cursor within `input`
  };

  void QueryWidth();
  // Erase() returns what erases the live area as last drawn, laid out for a
  // terminal `cols` wide; Draw() what draws it now. Redraw() writes both.
  std::string Erase(size_t cols);
  std::string Draw();
  void Redraw();
  // Takes the editor's events (lines, end of input, Ctrl+L), then redraws.
  void TakeEditorEvents();
  void Write(const std::string& s);

  bool started_ = false;
  bool have_termios_ = false;
  termios original_{};
  int resize_fd_ = -1;
  size_t cols_ = 80;
  size_t rows_ = 24;
  std::string prompt_;
  LineEditor editor_;
  std::vector<std::string> pending_;
  std::optional<Drawn> drawn_;
  std::deque<std::optional<std::string>> lines_;
  int64_t escape_at_ms_ = 0;  // when the last read left an escape sequence pending
  bool clear_screen_ = false;  // Ctrl+L: the next redraw starts from a cleared screen
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_TERMINAL_UI_H_
