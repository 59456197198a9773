#include "src/client/room_window.h"

#include <algorithm>

#include "absl/strings/str_split.h"
#include "src/client/nick_colour.h"
#include "src/client/tui_text.h"

namespace muxchat::client {

RoomWindow::RoomWindow(uint64_t room_id, std::string name, size_t max_lines)
    : room_id_(room_id), name_(std::move(name)), max_lines_(max_lines < 1 ? 1 : max_lines) {}

void RoomWindow::Add(ScrollLine line) {
  if (!active_ && line.kind == LineKind::kChat && !line.history) {
    ++unread_;
    if (line.mention) mentioned_ = true;
  }
  // Keep the rows on screen where they are while the user reads back.
  if (scroll_ > 0 && last_width_ > 0) scroll_ += static_cast<int>(LineRows(line, last_width_).size());
  lines_.push_back(std::move(line));
  while (lines_.size() > max_lines_) {
    lines_.pop_front();
    ++dropped_;
  }
}

bool RoomWindow::Confirm(uint64_t request_id) {
  for (auto it = lines_.rbegin(); it != lines_.rend(); ++it) {
    if (it->kind == LineKind::kOwn && it->pending && it->request_id == request_id) {
      it->pending = false;
      return true;
    }
  }
  return false;
}

bool RoomWindow::Refuse(uint64_t request_id) {
  for (auto it = lines_.rbegin(); it != lines_.rend(); ++it) {
    if (it->kind == LineKind::kOwn && it->pending && it->request_id == request_id) {
      it->pending = false;
      it->kind = LineKind::kError;
      it->text = "not delivered: " + it->text;
      return true;
    }
  }
  return false;
}

void RoomWindow::Activate() {
  active_ = true;
  unread_ = 0;
  mentioned_ = false;
}

void RoomWindow::Deactivate() {
  if (!active_) return;
  active_ = false;
  marker_ = dropped_ + lines_.size();
  has_marker_ = true;
  scroll_ = 0;
}

void RoomWindow::ScrollUp(int rows) { scroll_ += std::max(rows, 1); }
void RoomWindow::ScrollDown(int rows) { scroll_ = std::max(0, scroll_ - std::max(rows, 1)); }

std::vector<ScreenRow> RoomWindow::LineRows(const ScrollLine& line, int width) const {
  ScreenRow prefix;
  if (!line.time.empty()) prefix.push_back({line.time + " ", Style::kTime, 0});
  Style text_style = Style::kPlain;
  switch (line.kind) {
    case LineKind::kChat:
      prefix.push_back({"<" + line.nick + "> ", Style::kNick, NickColour(line.nick)});
      text_style = line.mention ? Style::kMention : (line.history ? Style::kHistory : Style::kPlain);
      break;
    case LineKind::kOwn:
      prefix.push_back({"<" + line.nick + "> ", Style::kOwnNick, 0});
      text_style = line.pending ? Style::kPending : (line.history ? Style::kHistory : Style::kPlain);
      break;
    case LineKind::kSystem:
      prefix.push_back({"-- ", Style::kSystem, 0});
      text_style = Style::kSystem;
      break;
    case LineKind::kError:
      prefix.push_back({"error: ", Style::kError, 0});
      text_style = Style::kError;
      break;
  }
  int prefix_width = 0;
  for (const Segment& s : prefix) prefix_width += TextColumns(s.text);
  // Continuation rows are indented under the text, unless the prefix would
  // leave fewer than 10 columns for text (a very narrow terminal).
  int indent = width - prefix_width >= 10 ? prefix_width : 0;
  std::vector<ScreenRow> rows;
  bool first = true;
  for (absl::string_view paragraph : absl::StrSplit(line.text, '\n')) {
    const int avail = first && indent == 0 ? width - prefix_width : width - indent;
    if (first && indent == 0 && avail < 2) {
      // The prefix alone fills the row: put it there, text below.
      rows.push_back(prefix);
      first = false;
    }
    for (std::string& piece : WrapToWidth(paragraph, std::max(avail, 2))) {
      ScreenRow row;
      if (first) {
        row = prefix;
        first = false;
      } else if (indent > 0) {
        row.push_back({std::string(static_cast<size_t>(indent), ' '), Style::kPlain, 0});
      }
      row.push_back({std::move(piece), text_style, 0});
      rows.push_back(std::move(row));
    }
  }
  // A prefix wider than the terminal is cut to the width (the text follows
  // on its own rows); rows never exceed `width`.
  for (ScreenRow& row : rows) {
    int used = 0;
    for (Segment& s : row) {
      const int w = TextColumns(s.text);
      if (used + w > width) {
        std::u32string chars = ToCodePoints(s.text);
        std::u32string kept;
        int k = used;
        for (char32_t c : chars) {
          if (k + CodePointColumns(c) > width) break;
          k += CodePointColumns(c);
          kept.push_back(c);
        }
        s.text = ToUtf8(kept);
        used = width;
      } else {
        used += w;
      }
    }
  }
  return rows;
}

std::vector<ScreenRow> RoomWindow::Render(int width, int height) {
  if (width < 1 || height < 1) return {};
  last_width_ = width;
  const int wanted = height + scroll_;
  std::vector<ScreenRow> reversed;
  for (size_t i = lines_.size(); i-- > 0 && static_cast<int>(reversed.size()) < wanted;) {
    std::vector<ScreenRow> rows = LineRows(lines_[i], width);
    for (auto r = rows.rbegin(); r != rows.rend(); ++r) reversed.push_back(std::move(*r));
    if (has_marker_ && dropped_ + i == marker_ && i > 0) {
      const std::string label = " new ";
      const int side = std::max(0, (width - static_cast<int>(label.size())) / 2);
      std::string bar;
      for (int k = 0; k < side; ++k) bar += "\u2500";
      reversed.push_back({{bar + label + bar, Style::kMarker, 0}});
      // 2 * side + 5 <= width: the marker row fits.
    }
  }
  const int total = static_cast<int>(reversed.size());
  // Clamp: at most so far up that the oldest row is at the top.
  if (total < wanted) scroll_ = std::max(0, total - height);
  std::vector<ScreenRow> out;
  const int skip = scroll_;
  for (int k = std::min(total, skip + height) - 1; k >= skip; --k) out.push_back(std::move(reversed[static_cast<size_t>(k)]));
  return out;
}

}  // namespace muxchat::client
