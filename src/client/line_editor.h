// LineEditor: the interactive client's input line, as pure state — no
// terminal I/O. Feed() takes raw key bytes from a terminal in raw mode
// (UTF-8 text, control keys, ANSI escape sequences for arrows/Home/End/
// Delete, and bracketed paste) and edits a UTF-8 buffer with a cursor and a
// bounded history; View() lays out prompt + buffer for a terminal of a given
// width, counting wide characters (CJK, emoji) as two columns.
//
// Why our own editor rather than libedit: libedit 3.1-20221030 corrupts its
// heap on a line above ~5,100 characters (a paste kills the client), and a
// poll loop that must survive any paste, redraw after a resize and place the
// cursor after wide characters needs to own the line anyway.
//
// Keys: Enter submits; inside a bracketed paste a newline is inserted instead,
// so a multi-line paste is one submission (split into lines by the caller).
// Left/Right/Home/End, Ctrl+B/F/A/E, Alt+B/F (word left/right), Backspace,
// Delete, Ctrl+K/U/W, Up/Down (history), Ctrl+D (end of input, even with
// text on the line), Ctrl+L (asks the caller to clear the screen). ESC
// starts an escape sequence; the caller ends one that stays incomplete with
// EscapeTimeout() after a short delay, so a lone Esc never eats the next key.
// Thread rule: single-threaded; owns its buffers.
#ifndef MUXCHAT_CLIENT_LINE_EDITOR_H_
#define MUXCHAT_CLIENT_LINE_EDITOR_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace muxchat::client {

// Where prompt + input go on a terminal `cols` wide, relative to the row the
// prompt starts on. Rows wrap like a terminal with autowrap: a wide character
// that does not fit at the end of a row moves to the next one.
struct EditorView {
  std::string text;      // what to write: prompt, then the visible input (controls as ^X)
  size_t cursor_row = 0;  // where the cursor belongs
  size_t cursor_col = 0;
  size_t end_row = 0;     // where writing `text` leaves the cursor; end_col == cols
  size_t end_col = 0;     // means the terminal is waiting to wrap
  size_t cursor_byte = 0;  // the cursor as a byte offset into `text`
};

// The row and column at which byte `offset` of `text` (printable UTF-8, no
// controls) lands when written from column 0 of a terminal `cols` wide.
void LayoutPosition(absl::string_view text, size_t offset, size_t cols, size_t* row, size_t* col);

class LineEditor {
 public:
  // The most input one line may hold; keys beyond it are dropped (and
  // counted in dropped_bytes()). Far above any server's max_text_bytes, so a
  // too-long paste still reaches the caller, which refuses it in one line.
  static constexpr size_t kMaxLineBytes = 1 << 20;
  // Lines kept for Up/Down.
  static constexpr size_t kMaxHistory = 500;

  enum class EventKind { kLine, kEndOfInput, kClearScreen };
  struct Event {
    EventKind kind;
    std::string text;  // kLine: the submitted buffer (may hold '\n' from a paste)
  };

  // Processes `bytes` (any split: escape sequences and UTF-8 may straddle calls).
  void Feed(absl::string_view bytes);
  // True while an escape sequence has started (ESC read) and not ended,
  // outside a bracketed paste (whose end marker may arrive late, in pieces).
  bool escape_pending() const { return !escape_.empty() && !in_paste_; }
  // The pending escape sequence has waited too long to be one a terminal
  // sent: its ESC was a lone Esc key (which does nothing), and the bytes
  // after it are keys typed after it.
  void EscapeTimeout();
  // Next submitted line, end of input or clear-screen request, oldest first.
  std::optional<Event> TakeEvent();

  // Replaces the buffer (cursor at its end): the caller refused a line and
  // gives it back to the user to edit.
  void SetBuffer(std::string text);
  // Adds `line` to the history (not if empty or equal to the last entry).
  void AddHistory(const std::string& line);

  const std::string& buffer() const { return buffer_; }
  size_t cursor() const { return cursor_; }
  size_t dropped_bytes() const { return dropped_bytes_; }

  // Lays out `prompt` (printable, no escapes) and the buffer for a terminal
  // `cols` wide showing at most `max_rows` rows of it; a longer buffer is
  // shown as a window around the cursor, cut ends marked with "…".
  EditorView View(absl::string_view prompt, size_t cols, size_t max_rows) const;

 private:
  void Key(unsigned char c);
  void EscapeSequence(const std::string& seq);
  void Insert(absl::string_view text);
  void Submit();
  void MoveLeft();
  void MoveRight();
  void DeleteBack();
  void DeleteForward();
  void DeleteWordBack();
  void MoveWordLeft();
  void MoveWordRight();
  void History(int direction);

  std::string buffer_;
  size_t cursor_ = 0;  // byte offset, always at a code point boundary
  size_t dropped_bytes_ = 0;
  std::deque<Event> events_;
  std::vector<std::string> history_;
  size_t history_pos_ = 0;        // == history_.size(): editing a new line
  std::string history_stash_;     // the new line while browsing history
  // Key decoding across Feed calls.
  std::string escape_;            // an escape sequence in progress (starts with ESC)
  std::string utf8_;              // a UTF-8 character in progress
  bool in_paste_ = false;
  bool last_was_cr_ = false;      // "\r\n" from a paste or a terminal is one Enter
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_LINE_EDITOR_H_
