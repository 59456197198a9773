// InputLine: the full-screen client's editable input line — text as code
// points with a cursor, the usual editing keys (as operations; the UI maps
// keys to them), a bounded history with the draft kept while browsing, and
// the horizontal view that keeps the cursor visible in a given number of
// columns (display width, so CJK and emoji count two).
//
// Thread rule: one thread. Plain value type; knows no terminal.
#ifndef MUXCHAT_CLIENT_INPUT_LINE_H_
#define MUXCHAT_CLIENT_INPUT_LINE_H_

#include <cstddef>
#include <deque>
#include <string>

namespace muxchat::client {

class InputLine {
 public:
  // A 20,000-character paste fits with room to spare; beyond this, typed
  // characters are dropped (Insert returns false) so input stays bounded.
  static constexpr size_t kMaxChars = 256 * 1024;
  static constexpr size_t kMaxHistory = 500;

  explicit InputLine(size_t max_chars = kMaxChars, size_t max_history = kMaxHistory)
      : max_chars_(max_chars), max_history_(max_history) {}

  // Inserts at the cursor; false (nothing changes) when the line is full.
  bool Insert(char32_t c);
  void Backspace();      // delete before the cursor
  void Delete();         // delete at the cursor
  void Left();
  void Right();
  void Home();
  void End();
  void WordLeft();
  void WordRight();
  void KillToEnd();      // Ctrl+K
  void KillToStart();    // Ctrl+U
  void KillWordBack();   // Ctrl+W: the word before the cursor and the spaces after it
  void HistoryUp();      // older entry; the first step saves the draft
  void HistoryDown();    // newer entry, then the saved draft

  // Returns the line as UTF-8, records it in the history (unless empty or
  // equal to the newest entry) and clears the line.
  std::string Submit();
  // Records `text` in the history without touching the line (for a line
  // refused before sending, so it can be recalled).
  void Remember(const std::string& text);
  // Replaces the whole line (e.g. after completion); cursor clamped.
  void Set(std::u32string text, size_t cursor);
  void Clear();

  const std::u32string& text() const { return text_; }
  std::string Utf8() const;
  size_t cursor() const { return cursor_; }
  bool empty() const { return text_.empty(); }
  size_t history_size() const { return history_.size(); }

  // What to draw in `width` columns: the visible slice (UTF-8) and the
  // cursor's column in it. Scrolls horizontally only as far as needed to
  // keep the cursor in view, so the view does not jump while typing.
  struct View {
    std::string text;
    int cursor_column = 0;
  };
  View Layout(int width);

 private:
  size_t max_chars_;
  size_t max_history_;
  std::u32string text_;
  size_t cursor_ = 0;
  size_t first_visible_ = 0;
  std::deque<std::u32string> history_;  // oldest first
  size_t history_pos_ = 0;              // == history_.size() on the live line
  std::u32string draft_;
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_INPUT_LINE_H_
