#include "src/client/input_line.h"

#include <algorithm>

#include "src/client/tui_text.h"

namespace muxchat::client {

bool InputLine::Insert(char32_t c) {
  if (text_.size() >= max_chars_) return false;
  text_.insert(text_.begin() + static_cast<std::ptrdiff_t>(cursor_), c);
  ++cursor_;
  return true;
}

void InputLine::Backspace() {
  if (cursor_ == 0) return;
  text_.erase(--cursor_, 1);
}

void InputLine::Delete() {
  if (cursor_ < text_.size()) text_.erase(cursor_, 1);
}

void InputLine::Left() {
  if (cursor_ > 0) --cursor_;
}

void InputLine::Right() {
  if (cursor_ < text_.size()) ++cursor_;
}

void InputLine::Home() { cursor_ = 0; }
void InputLine::End() { cursor_ = text_.size(); }

void InputLine::WordLeft() {
  while (cursor_ > 0 && text_[cursor_ - 1] == U' ') --cursor_;
  while (cursor_ > 0 && text_[cursor_ - 1] != U' ') --cursor_;
}

void InputLine::WordRight() {
  while (cursor_ < text_.size() && text_[cursor_] == U' ') ++cursor_;
  while (cursor_ < text_.size() && text_[cursor_] != U' ') ++cursor_;
}

void InputLine::KillToEnd() { text_.erase(cursor_); }

void InputLine::KillToStart() {
  text_.erase(0, cursor_);
  cursor_ = 0;
}

void InputLine::KillWordBack() {
  const size_t end = cursor_;
  WordLeft();
  text_.erase(cursor_, end - cursor_);
}

void InputLine::HistoryUp() {
  if (history_pos_ == 0) return;
  if (history_pos_ == history_.size()) draft_ = text_;
  --history_pos_;
  text_ = history_[history_pos_];
  cursor_ = text_.size();
}

void InputLine::HistoryDown() {
  if (history_pos_ >= history_.size()) return;
  ++history_pos_;
  text_ = history_pos_ == history_.size() ? draft_ : history_[history_pos_];
  cursor_ = text_.size();
}

void InputLine::Remember(const std::string& text) {
  std::u32string entry = ToCodePoints(text);
  if (!entry.empty() && (history_.empty() || history_.back() != entry)) {
    history_.push_back(std::move(entry));
    if (history_.size() > max_history_) history_.pop_front();
  }
  history_pos_ = history_.size();
  draft_.clear();
}

std::string InputLine::Submit() {
  std::string line = Utf8();
  Remember(line);
  Clear();
  return line;
}

void InputLine::Set(std::u32string text, size_t cursor) {
  text_ = std::move(text);
  if (text_.size() > max_chars_) text_.resize(max_chars_);
  cursor_ = std::min(cursor, text_.size());
}

void InputLine::Clear() {
  text_.clear();
  cursor_ = 0;
  first_visible_ = 0;
}

std::string InputLine::Utf8() const { return ToUtf8(text_); }

InputLine::View InputLine::Layout(int width) {
  View view;
  if (width < 2) width = 2;
  // One column stays free after the last character for the cursor.
  if (first_visible_ > cursor_) first_visible_ = cursor_;
  int used = 0;
  for (size_t i = first_visible_; i < cursor_; ++i) used += CodePointColumns(text_[i]);
  while (used + 1 > width && first_visible_ < cursor_) used -= CodePointColumns(text_[first_visible_++]);
  // When the text ends before the right edge, show as much as fits on the left.
  int tail = used;
  for (size_t i = cursor_; i < text_.size(); ++i) tail += CodePointColumns(text_[i]);
  while (first_visible_ > 0 && tail + 1 + CodePointColumns(text_[first_visible_ - 1]) <= width) {
    --first_visible_;
    const int w = CodePointColumns(text_[first_visible_]);
    used += w;
    tail += w;
  }
  view.cursor_column = used;
  size_t end = first_visible_;
  int shown = 0;
  while (end < text_.size() && shown + CodePointColumns(text_[end]) <= width) shown += CodePointColumns(text_[end++]);
  view.text = ToUtf8(std::u32string_view(text_).substr(first_visible_, end - first_visible_));
  return view;
}

}  // namespace muxchat::client
