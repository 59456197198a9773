#include "src/client/line_editor.h"

#include <algorithm>
#include <utility>

#include "src/client/display_width.h"

namespace muxchat::client {
namespace {

constexpr const char* kEllipsis = "\xe2\x80\xa6";  // …, one column
constexpr size_t kMaxEscapeBytes = 32;                   // longer: not a key we know, dropped

bool IsContinuation(unsigned char c) { return (c & 0xc0) == 0x80; }

size_t Utf8Length(unsigned char lead) {
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 0;  // not a lead byte
}

// One character of the input as shown: controls become ^X, C1 controls U+FFFD.
struct Glyph {
  size_t begin = 0, end = 0;  // bytes in the buffer
  std::string shown;
  size_t width = 0;
};

std::vector<Glyph> Glyphs(absl::string_view buffer) {
  std::vector<Glyph> out;
  for (size_t i = 0; i < buffer.size();) {
    const DecodedChar c = DecodeUtf8(buffer.substr(i));
    Glyph g;
    g.begin = i;
    g.end = i + c.bytes;
    if (c.code_point < 0x20 || c.code_point == 0x7f) {
      g.shown = {'^', static_cast<char>(c.code_point == 0x7f ? '?' : c.code_point + 0x40)};
      g.width = 2;
    } else if (c.code_point >= 0x80 && c.code_point < 0xa0) {
      g.shown = "\xef\xbf\xbd";
      g.width = 1;
    } else {
      g.shown = std::string(buffer.substr(i, c.bytes));
      g.width = static_cast<size_t>(CodePointWidth(c.code_point));
    }
    out.push_back(std::move(g));
    i += c.bytes;
  }
  return out;
}

// Walks `text` up to byte `offset` like a terminal with autowrap; the
// column may end equal to `cols` (the terminal waits to wrap).
void Walk(absl::string_view text, size_t offset, size_t cols, size_t* row, size_t* col) {
  *row = 0;
  *col = 0;
  for (size_t i = 0; i < offset && i < text.size();) {
    const DecodedChar c = DecodeUtf8(text.substr(i));
    const size_t w = static_cast<size_t>(CodePointWidth(c.code_point));
    if (w > 0) {
      if (*col + w > cols) {
        ++*row;
        *col = 0;
      }
      *col += w;
    }
    i += c.bytes;
  }
}

}  // namespace

void LayoutPosition(absl::string_view text, size_t offset, size_t cols, size_t* row, size_t* col) {
  if (cols == 0) cols = 80;
  Walk(text, offset, cols, row, col);
  size_t next = 1;  // the width of what comes next: it must fit on this row
  if (offset < text.size()) next = std::max(1, CodePointWidth(DecodeUtf8(text.substr(offset)).code_point));
  if (*col + next > cols) {
    ++*row;
    *col = 0;
  }
}

void LineEditor::Feed(absl::string_view bytes) {
  for (const char ch : bytes) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (!escape_.empty()) {
      escape_.push_back(static_cast<char>(c));
      bool done = false;
      if (escape_.size() == 2) {
        done = c != '[' && c != 'O';  // ESC + key: Alt+key
      } else if (escape_[1] == 'O') {
        done = true;
      } else {
        done = c >= 0x40 && c <= 0x7e;  // a CSI sequence's final byte
      }
      if (done) {
        std::string seq = std::move(escape_);
        escape_.clear();
        EscapeSequence(seq);
      } else if (escape_.size() > kMaxEscapeBytes) {
        escape_.clear();
      }
      continue;
    }
    if (!utf8_.empty()) {
      if (IsContinuation(c)) {
        utf8_.push_back(static_cast<char>(c));
        if (utf8_.size() == Utf8Length(static_cast<unsigned char>(utf8_[0]))) {
          Insert(utf8_);
          utf8_.clear();
        }
        continue;
      }
      utf8_.clear();
      Insert("\xef\xbf\xbd");  // a truncated character; then `c` on its own
    }
    if (c == 0x1b) {
      escape_ = "\x1b";
    } else if (c >= 0x80) {
      if (Utf8Length(c) == 0) {
        Insert("\xef\xbf\xbd");
      } else {
        utf8_.push_back(static_cast<char>(c));
      }
    } else {
      Key(c);
    }
    last_was_cr_ = c == '\r';
  }
}

void LineEditor::Key(unsigned char c) {
  if (c == '\n' && last_was_cr_) return;  // CR LF is one line end
  if (in_paste_) {
    if (c == '\r' || c == '\n') {
      Insert("\n");
    } else if (c == '\t' || c >= 0x20) {
      Insert(std::string(1, static_cast<char>(c)));
    }
    return;  // other controls in a paste are not keys
  }
  switch (c) {
    case '\r':
    case '\n':
      Submit();
      return;
    case 0x01:  // Ctrl+A
      cursor_ = 0;
      return;
    case 0x02:  // Ctrl+B
      MoveLeft();
      return;
    case 0x04:  // Ctrl+D: end of input, whatever is on the line
      events_.push_back({EventKind::kEndOfInput, ""});
      return;
    case 0x05:  // Ctrl+E
      cursor_ = buffer_.size();
      return;
    case 0x06:  // Ctrl+F
      MoveRight();
      return;
    case 0x08:  // Ctrl+H
    case 0x7f:  // Backspace
      DeleteBack();
      return;
    case 0x0b:  // Ctrl+K
      buffer_.erase(cursor_);
      return;
    case 0x0c:  // Ctrl+L
      events_.push_back({EventKind::kClearScreen, ""});
      return;
    case 0x0e:  // Ctrl+N
      History(+1);
      return;
    case 0x10:  // Ctrl+P
      History(-1);
      return;
    case 0x15:  // Ctrl+U
      buffer_.erase(0, cursor_);
      cursor_ = 0;
      return;
    case 0x17:  // Ctrl+W
      DeleteWordBack();
      return;
    default:
      if (c >= 0x20) Insert(std::string(1, static_cast<char>(c)));
      return;  // other control keys do nothing
  }
}

void LineEditor::EscapeSequence(const std::string& seq) {
  if (seq == "\x1b[200~") {
    in_paste_ = true;
    return;
  }
  if (seq == "\x1b[201~") {
    in_paste_ = false;
    return;
  }
  if (in_paste_) return;
  if (seq.size() == 2) {  // Alt+key
    if (seq[1] == 'b') MoveWordLeft();
    if (seq[1] == 'f') MoveWordRight();
    return;
  }
  // "ESC [ 1 ; 5 D" (a modifier with an arrow) acts as the plain key.
  const char final = seq.back();
  const bool csi = seq.size() >= 3 && seq[1] == '[';
  const std::string params = csi ? seq.substr(2, seq.size() - 3) : "";
  if (seq[1] == 'O' || (csi && (params.empty() || params.rfind("1;", 0) == 0))) {
    switch (final) {
      case 'A': History(-1); return;
      case 'B': History(+1); return;
      case 'C': MoveRight(); return;
      case 'D': MoveLeft(); return;
      case 'H': cursor_ = 0; return;
      case 'F': cursor_ = buffer_.size(); return;
      default: return;
    }
  }
  if (csi && final == '~') {
    if (params == "1" || params == "7") cursor_ = 0;
    if (params == "4" || params == "8") cursor_ = buffer_.size();
    if (params == "3") DeleteForward();
  }
}

void LineEditor::Insert(absl::string_view text) {
  if (buffer_.size() + text.size() > kMaxLineBytes) {
    dropped_bytes_ += text.size();
    return;
  }
  buffer_.insert(cursor_, text.data(), text.size());
  cursor_ += text.size();
}

void LineEditor::Submit() {
  AddHistory(buffer_);
  events_.push_back({EventKind::kLine, std::move(buffer_)});
  buffer_.clear();
  cursor_ = 0;
  history_pos_ = history_.size();
  history_stash_.clear();
}

void LineEditor::MoveLeft() {
  while (cursor_ > 0) {
    --cursor_;
    if (IsContinuation(static_cast<unsigned char>(buffer_[cursor_]))) continue;
    // A zero-width mark belongs to the character before it.
    if (cursor_ > 0 && CodePointWidth(DecodeUtf8(absl::string_view(buffer_).substr(cursor_)).code_point) == 0 &&
        static_cast<unsigned char>(buffer_[cursor_]) >= 0x80) {
      continue;
    }
    return;
  }
}

void LineEditor::MoveRight() {
  if (cursor_ >= buffer_.size()) return;
  cursor_ += DecodeUtf8(absl::string_view(buffer_).substr(cursor_)).bytes;
  while (cursor_ < buffer_.size() && static_cast<unsigned char>(buffer_[cursor_]) >= 0x80) {
    const DecodedChar next = DecodeUtf8(absl::string_view(buffer_).substr(cursor_));
    if (CodePointWidth(next.code_point) != 0) break;
    cursor_ += next.bytes;
  }
}

void LineEditor::DeleteBack() {
  const size_t end = cursor_;
  MoveLeft();
  buffer_.erase(cursor_, end - cursor_);
}

void LineEditor::DeleteForward() {
  const size_t begin = cursor_;
  MoveRight();
  buffer_.erase(begin, cursor_ - begin);
  cursor_ = begin;
}

void LineEditor::DeleteWordBack() {
  size_t begin = cursor_;
  while (begin > 0 && buffer_[begin - 1] == ' ') --begin;
  while (begin > 0 && buffer_[begin - 1] != ' ') --begin;
  buffer_.erase(begin, cursor_ - begin);
  cursor_ = begin;
}

void LineEditor::MoveWordLeft() {
  while (cursor_ > 0 && buffer_[cursor_ - 1] == ' ') --cursor_;
  while (cursor_ > 0 && buffer_[cursor_ - 1] != ' ') --cursor_;
}

void LineEditor::MoveWordRight() {
  while (cursor_ < buffer_.size() && buffer_[cursor_] == ' ') ++cursor_;
  while (cursor_ < buffer_.size() && buffer_[cursor_] != ' ') ++cursor_;
}

void LineEditor::EscapeTimeout() {
  if (!escape_pending()) return;
  const std::string rest = escape_.substr(1);
  escape_.clear();
  last_was_cr_ = false;
  Feed(rest);
}

void LineEditor::History(int direction) {
  if (history_.empty()) return;
  if (history_pos_ == history_.size()) history_stash_ = buffer_;
  if (direction < 0 && history_pos_ > 0) --history_pos_;
  if (direction > 0 && history_pos_ < history_.size()) ++history_pos_;
  buffer_ = history_pos_ == history_.size() ? history_stash_ : history_[history_pos_];
  cursor_ = buffer_.size();
}

void LineEditor::AddHistory(const std::string& line) {
  if (line.empty() || (!history_.empty() && history_.back() == line)) return;
  history_.push_back(line);
  if (history_.size() > kMaxHistory) history_.erase(history_.begin());
  history_pos_ = history_.size();
}

void LineEditor::SetBuffer(std::string text) {
  buffer_ = std::move(text);
  cursor_ = buffer_.size();
}

std::optional<LineEditor::Event> LineEditor::TakeEvent() {
  if (events_.empty()) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

EditorView LineEditor::View(absl::string_view prompt, size_t cols, size_t max_rows) const {
  if (cols == 0) cols = 80;
  max_rows = std::max<size_t>(max_rows, 1);
  const std::vector<Glyph> glyphs = Glyphs(buffer_);
  size_t at = 0;  // the glyph the cursor is on
  while (at < glyphs.size() && glyphs[at].begin < cursor_) ++at;
  size_t total = DisplayWidth(prompt);
  for (const Glyph& g : glyphs) total += g.width;
  // Each row can lose a column to a wide character that wraps early, and
  // the cursor at the end needs one.
  const size_t room = max_rows * cols > max_rows + 1 ? max_rows * cols - max_rows - 1 : 1;
  size_t first = 0, last = glyphs.size();  // the window of glyphs shown
  if (total > room) {
    size_t budget = room > DisplayWidth(prompt) + 2 ? room - DisplayWidth(prompt) - 2 : 0;  // 2: the two "…"
    first = last = at;
    size_t ahead = budget / 2;  // some text after the cursor, the rest before it
    while (last < glyphs.size() && glyphs[last].width <= ahead) {
      ahead -= glyphs[last].width;
      budget -= glyphs[last].width;
      ++last;
    }
    while (first > 0 && glyphs[first - 1].width <= budget) budget -= glyphs[--first].width;
    while (last < glyphs.size() && glyphs[last].width <= budget) budget -= glyphs[last++].width;
  }
  EditorView view;
  view.text = std::string(prompt);
  if (first > 0) view.text += kEllipsis;
  for (size_t i = first; i < last; ++i) {
    if (i == at) view.cursor_byte = view.text.size();
    view.text += glyphs[i].shown;
  }
  if (at >= last) view.cursor_byte = view.text.size();
  if (last < glyphs.size()) view.text += kEllipsis;
  LayoutPosition(view.text, view.cursor_byte, cols, &view.cursor_row, &view.cursor_col);
  Walk(view.text, view.text.size(), cols, &view.end_row, &view.end_col);
  return view;
}

}  // namespace muxchat::client
