// WindowList: the full-screen client's windows — window 1 "status" (server
// and command output, no room) and one RoomWindow per joined room, numbered
// in join order like irssi/weechat — with the active window, switching, and
// the status bar of room tabs (unread counts, mentions highlighted) laid out
// as styled segments for a given width.
//
// Thread rule: one thread. Owns its windows; pointers returned stay valid
// until that window is removed.
#ifndef MUXCHAT_CLIENT_WINDOW_LIST_H_
#define MUXCHAT_CLIENT_WINDOW_LIST_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "src/client/room_window.h"

namespace muxchat::client {

class WindowList {
 public:
  WindowList();

  // The window of `room_id`, created (at the end, not activated) if new.
  RoomWindow* Open(uint64_t room_id, const std::string& name);
  // Removes a room's window; if it was active, the previous one becomes active.
  void Close(uint64_t room_id);
  RoomWindow* Find(uint64_t room_id);
  RoomWindow* FindByName(const std::string& name);  // ASCII case-insensitive
  RoomWindow& status() { return *windows_.front(); }

  RoomWindow& active() { return *windows_[active_]; }
  const RoomWindow& active() const { return *windows_[active_]; }
  size_t active_index() const { return active_; }
  size_t size() const { return windows_.size(); }
  RoomWindow& at(size_t index) { return *windows_[index]; }
  // Makes window `index` (0-based) active; false if there is none.
  bool Activate(size_t index);
  bool ActivateRoom(uint64_t room_id);
  void Next();
  void Previous();

  // Names of the joined rooms, in window order.
  std::vector<std::string> RoomNames() const;

  // The status bar: "[1:status] 2:lobby(3) 3:dev(1!)" — the active tab in
  // brackets, unread counts in parentheses, '!' and a highlight on a tab
  // whose room mentioned us. Tabs that do not fit are summarised as "+N",
  // styled as a mention (or unread) if any of them has one.
  ScreenRow StatusBar(int width) const;

 private:
  std::vector<std::unique_ptr<RoomWindow>> windows_;
  size_t active_ = 0;
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_WINDOW_LIST_H_
