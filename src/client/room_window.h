// RoomWindow: one window of the full-screen client — a room's scrollback
// (bounded), its unread count and mention flag while it is in the
// background, the read marker, the scroll position, and the members this
// client knows of. Render() lays the scrollback out in rows of styled
// segments for a given size, so everything but the drawing is testable
// without a terminal. Window 0 of a WindowList is the "status" window
// (room_id 0) for server and command output.
//
// Thread rule: one thread. Text given to Add() must already be safe for a
// terminal (SanitizeForTerminal); it is stored and drawn as is.
#ifndef MUXCHAT_CLIENT_ROOM_WINDOW_H_
#define MUXCHAT_CLIENT_ROOM_WINDOW_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "src/client/room_members.h"

namespace muxchat::client {

enum class LineKind {
  kChat,     // someone else's message
  kOwn,      // our own message (pending until the server's echo confirms it)
  kSystem,   // joins, leaves, notices, command output
  kError,    // a refusal or failure
};

struct ScrollLine {
  LineKind kind = LineKind::kSystem;
  std::string time;     // "HH:MM", may be empty
  std::string nick;     // kChat / kOwn
  std::string text;     // may hold '\n': shown as indented continuation lines
  bool mention = false;  // kChat that names our nickname
  bool history = false;  // replayed on join
  bool pending = false;  // kOwn not yet confirmed
  uint64_t request_id = 0;  // kOwn: the Send() id, to confirm it later
};

enum class Style {
  kPlain, kTime, kNick, kOwnNick, kSystem, kError, kMention, kMarker, kPending, kHistory,
  kTabActive, kTabUnread, kTabMention, kBar,
};

struct Segment {
  std::string text;
  Style style = Style::kPlain;
  int colour = 0;  // kNick: the NickColour slot
};
using ScreenRow = std::vector<Segment>;

class RoomWindow {
 public:
  static constexpr size_t kMaxLines = 5000;

  RoomWindow(uint64_t room_id, std::string name, size_t max_lines = kMaxLines);

  uint64_t room_id() const { return room_id_; }
  const std::string& name() const { return name_; }

  // Appends a line (dropping the oldest beyond max_lines). While the window
  // is not active, chat lines count as unread and a mention sets mentioned().
  void Add(ScrollLine line);
  // Marks our pending message `request_id` as confirmed; false if unknown.
  bool Confirm(uint64_t request_id);
  // Marks our pending message `request_id` as refused (kept, shown as error).
  bool Refuse(uint64_t request_id);

  // Becoming the visible window clears unread and mention; leaving it puts
  // the read marker after the last line seen.
  void Activate();
  void Deactivate();
  bool active() const { return active_; }
  int unread() const { return unread_; }
  bool mentioned() const { return mentioned_; }

  // Scrolling, in rows; clamped when rendering.
  void ScrollUp(int rows);
  void ScrollDown(int rows);
  void ScrollToBottom() { scroll_ = 0; }
  bool scrolled() const { return scroll_ > 0; }

  // The `height` rows to show at `width` columns, oldest first; fewer when
  // the scrollback is short. Remembers `width` to keep the view steady when
  // lines arrive while scrolled up.
  std::vector<ScreenRow> Render(int width, int height);

  // Who is in the room, as far as this client knows (see RoomMembers).
  RoomMembers& members() { return members_; }
  const RoomMembers& members() const { return members_; }

  size_t line_count() const { return lines_.size(); }
  const ScrollLine& line(size_t i) const { return lines_[i]; }

 private:
  // The rows of one line at `width`.
  std::vector<ScreenRow> LineRows(const ScrollLine& line, int width) const;

  uint64_t room_id_;
  std::string name_;
  size_t max_lines_;
  std::deque<ScrollLine> lines_;
  uint64_t dropped_ = 0;      // lines dropped from the front (for marker positions)
  bool active_ = false;
  int unread_ = 0;
  bool mentioned_ = false;
  uint64_t marker_ = 0;       // absolute index of the first line not yet seen; 0 = none
  bool has_marker_ = false;
  int scroll_ = 0;
  int last_width_ = 0;
  RoomMembers members_;
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_ROOM_WINDOW_H_
