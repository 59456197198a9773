// ScreenModel: a small terminal emulator for tests — enough of one to tell
// what a user would see after the client's output: UTF-8 text with wide
// characters (two columns, wrapped early at a row's end like xterm and
// tmux), autowrap, CR, LF, and the CSI sequences the client uses (cursor
// up/down/forward/back, erase to end of screen or row); other escapes are
// ignored. Lines wrapped by autowrap stay one logical line, so Resize()
// reflows them the way tmux, VTE and kitty do. Rows are not limited: there
// is no scrolling, the whole history stays visible.
#ifndef MUXCHAT_TESTS_CLIENT_SCREEN_MODEL_H_
#define MUXCHAT_TESTS_CLIENT_SCREEN_MODEL_H_

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "src/client/display_width.h"

namespace muxchat::testing {

class ScreenModel {
 public:
  explicit ScreenModel(size_t cols) : cols_(cols) { lines_.emplace_back(); }

  void Feed(absl::string_view bytes) {
    for (const char ch : bytes) Byte(static_cast<unsigned char>(ch));
  }

  void Resize(size_t cols) { cols_ = cols; }

  // Every visual row, top to bottom, trailing spaces removed.
  std::vector<std::string> Rows() const {
    std::vector<std::string> out;
    for (const Line& line : lines_) {
      std::vector<Pos> pos = Layout(line);
      const size_t rows = line.empty() ? 1 : pos.back().row + 1;
      std::vector<std::string> text(rows);
      std::vector<size_t> col(rows, 0);
      for (size_t i = 0; i < line.size(); ++i) {
        std::string& t = text[pos[i].row];
        t.append(pos[i].col - col[pos[i].row], ' ');
        t += line[i].glyph;
        col[pos[i].row] = pos[i].col + line[i].width;
      }
      for (std::string& t : text) {
        while (!t.empty() && t.back() == ' ') t.pop_back();
        out.push_back(t);
      }
    }
    return out;
  }

  // The rows joined with '\n' (for failure messages).
  std::string Dump() const {
    std::string out;
    for (const std::string& r : Rows()) out += "|" + r + "\n";
    return out;
  }

 private:
  struct Cell {
    std::string glyph;
    size_t width;
  };
  using Line = std::vector<Cell>;
  struct Pos {
    size_t row, col;
  };

  // Where each cell of `line` sits, plus (at the end) where the next would go.
  std::vector<Pos> Layout(const Line& line) const {
    std::vector<Pos> pos;
    size_t row = 0, col = 0;
    for (const Cell& c : line) {
      if (col + c.width > cols_) {
        ++row;
        col = 0;
      }
      pos.push_back({row, col});
      col += c.width;
    }
    pos.push_back({row, col});  // may be col == cols_: waiting to wrap
    return pos;
  }

  Pos Cursor() const { return Layout(lines_[line_])[index_]; }

  size_t RowsOf(size_t line) const {
    if (lines_[line].empty()) return 1;
    const std::vector<Pos> pos = Layout(lines_[line]);
    return pos[pos.size() - 2].row + 1;  // the row of the last cell
  }

  // Puts the cursor at visual (row, col) of logical line `line`, adding
  // spaces if that is past the end of what was written.
  void MoveTo(size_t line, size_t row, size_t col) {
    line_ = line;
    Line& l = lines_[line];
    for (;;) {
      const std::vector<Pos> pos = Layout(l);
      for (size_t i = 0; i < l.size(); ++i) {
        if (pos[i].row == row && pos[i].col <= col && col < pos[i].col + l[i].width) {
          index_ = i;
          return;
        }
        if (pos[i].row > row) {  // a gap at the end of the row
          index_ = i;
          return;
        }
      }
      const Pos end = pos.back();
      if (end.row == row && end.col == col) {
        index_ = l.size();
        return;
      }
      l.push_back({" ", 1});
    }
  }

  // Moves `n` visual rows (negative: up), keeping the column.
  void MoveRows(long n) {
    Pos p = Cursor();
    const size_t col = std::min(p.col, cols_ - 1);
    long global = static_cast<long>(p.row);
    for (size_t i = 0; i < line_; ++i) global += static_cast<long>(RowsOf(i));
    long total = 0;
    for (size_t i = 0; i < lines_.size(); ++i) total += static_cast<long>(RowsOf(i));
    long target = std::clamp(global + n, 0L, total - 1);
    size_t line = 0;
    while (target >= static_cast<long>(RowsOf(line))) target -= static_cast<long>(RowsOf(line++));
    MoveTo(line, static_cast<size_t>(target), col);
  }

  void Put(std::string glyph, size_t width) {
    Line& l = lines_[line_];
    if (index_ < l.size()) {
      l[index_] = {std::move(glyph), width};
    } else {
      l.push_back({std::move(glyph), width});
    }
    ++index_;
  }

  void Csi(const std::string& params, char final) {
    long n = 1;
    if (!params.empty() && params[0] != '?') {
      if (!absl::SimpleAtoi(params, &n) || n == 0) n = 1;
    }
    if (!params.empty() && params[0] == '?') return;  // modes: bracketed paste etc.
    const Pos p = Cursor();
    switch (final) {
      case 'A': MoveRows(-n); return;
      case 'B': MoveRows(n); return;
      case 'C': MoveTo(line_, p.row, std::min(std::min(p.col, cols_ - 1) + static_cast<size_t>(n), cols_ - 1)); return;
      case 'D': MoveTo(line_, p.row, std::min(p.col, cols_ - 1) - std::min(std::min(p.col, cols_ - 1), static_cast<size_t>(n))); return;
      case 'J':
        if (params.empty() || params == "0") {
          lines_[line_].resize(std::min(index_, lines_[line_].size()));
          lines_.resize(line_ + 1);
        }
        return;
      case 'K':
        if (params.empty() || params == "0") {
          Line& l = lines_[line_];
          const std::vector<Pos> pos = Layout(l);
          for (size_t i = index_; i < l.size(); ++i) {
            if (pos[i].row == p.row) l[i] = {" ", 1};
          }
          while (!l.empty() && l.back().glyph == " " && l.size() > index_) l.pop_back();
        }
        return;
      default:
        return;  // colours and the rest: no effect on the text
    }
  }

  void Byte(unsigned char c) {
    if (!escape_.empty()) {
      escape_.push_back(static_cast<char>(c));
      if (escape_.size() == 2 && c != '[') {
        escape_.clear();  // ESC + one character
      } else if (escape_.size() > 2 && c >= 0x40 && c <= 0x7e) {
        Csi(escape_.substr(2, escape_.size() - 3), static_cast<char>(c));
        escape_.clear();
      }
      return;
    }
    if (!utf8_.empty() || c >= 0x80) {
      utf8_.push_back(static_cast<char>(c));
      const client::DecodedChar d = client::DecodeUtf8(utf8_);
      const size_t need = (utf8_[0] & 0xe0) == 0xc0 ? 2 : (utf8_[0] & 0xf0) == 0xe0 ? 3 : (utf8_[0] & 0xf8) == 0xf0 ? 4 : 1;
      if (utf8_.size() >= need) {
        const int w = client::CodePointWidth(d.code_point);
        if (w > 0) Put(utf8_, static_cast<size_t>(w));
        utf8_.clear();
      }
      return;
    }
    switch (c) {
      case 0x1b:
        escape_ = "\x1b";
        return;
      case '\r': {
        const Pos p = Cursor();
        MoveTo(line_, p.row, 0);
        return;
      }
      case '\n': {
        const Pos p = Cursor();
        const std::vector<Pos> pos = Layout(lines_[line_]);
        const size_t last_row = pos.back().row;
        if (p.row < last_row) {
          MoveTo(line_, p.row + 1, std::min(p.col, cols_ - 1));
        } else {
          if (line_ + 1 == lines_.size()) lines_.emplace_back();
          MoveTo(line_ + 1, 0, std::min(p.col, cols_ - 1));
        }
        return;
      }
      case '\b': {
        const Pos p = Cursor();
        if (p.col > 0) MoveTo(line_, p.row, std::min(p.col, cols_) - 1);
        return;
      }
      case 0x07:
        return;
      default:
        if (c >= 0x20 && c != 0x7f) Put(std::string(1, static_cast<char>(c)), 1);
        return;
    }
  }

  size_t cols_;
  std::vector<Line> lines_;
  size_t line_ = 0;
  size_t index_ = 0;
  std::string escape_;
  std::string utf8_;
};

}  // namespace muxchat::testing

#endif  // MUXCHAT_TESTS_CLIENT_SCREEN_MODEL_H_
