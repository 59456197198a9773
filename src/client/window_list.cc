#include "src/client/window_list.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/client/tui_text.h"

namespace muxchat::client {

WindowList::WindowList() {
  windows_.push_back(std::make_unique<RoomWindow>(0, "status"));
  windows_.front()->Activate();
}

RoomWindow* WindowList::Open(uint64_t room_id, const std::string& name) {
  if (RoomWindow* w = Find(room_id); w != nullptr) return w;
  windows_.push_back(std::make_unique<RoomWindow>(room_id, name));
  return windows_.back().get();
}

void WindowList::Close(uint64_t room_id) {
  for (size_t i = 1; i < windows_.size(); ++i) {
    if (windows_[i]->room_id() != room_id) continue;
    const bool was_active = i == active_;
    windows_.erase(windows_.begin() + static_cast<std::ptrdiff_t>(i));
    if (was_active) {
      active_ = i - 1;
      windows_[active_]->Activate();
    } else if (active_ > i) {
      --active_;
    }
    return;
  }
}

RoomWindow* WindowList::Find(uint64_t room_id) {
  for (size_t i = 1; i < windows_.size(); ++i) {
    if (windows_[i]->room_id() == room_id) return windows_[i].get();
  }
  return nullptr;
}

RoomWindow* WindowList::FindByName(const std::string& name) {
  for (size_t i = 1; i < windows_.size(); ++i) {
    if (absl::EqualsIgnoreCase(windows_[i]->name(), name)) return windows_[i].get();
  }
  return nullptr;
}

bool WindowList::Activate(size_t index) {
  if (index >= windows_.size()) return false;
  if (index == active_) return true;
  windows_[active_]->Deactivate();
  active_ = index;
  windows_[active_]->Activate();
  return true;
}

bool WindowList::ActivateRoom(uint64_t room_id) {
  for (size_t i = 1; i < windows_.size(); ++i) {
    if (windows_[i]->room_id() == room_id) return Activate(i);
  }
  return false;
}

void WindowList::Next() { Activate((active_ + 1) % windows_.size()); }
void WindowList::Previous() { Activate((active_ + windows_.size() - 1) % windows_.size()); }

std::vector<std::string> WindowList::RoomNames() const {
  std::vector<std::string> names;
  for (size_t i = 1; i < windows_.size(); ++i) names.push_back(windows_[i]->name());
  return names;
}

ScreenRow WindowList::StatusBar(int width) const {
  ScreenRow row;
  int used = 0;
  for (size_t i = 0; i < windows_.size(); ++i) {
    const RoomWindow& w = *windows_[i];
    std::string tab = absl::StrCat(i + 1, ":", w.name());
    if (w.unread() > 0) absl::StrAppend(&tab, "(", w.unread(), w.mentioned() ? "!" : "", ")");
    if (i == active_) tab = absl::StrCat("[", tab, "]");
    const Style style = i == active_       ? Style::kTabActive
                        : w.mentioned()    ? Style::kTabMention
                        : w.unread() > 0   ? Style::kTabUnread
                                           : Style::kBar;
    const int tab_width = TextColumns(tab) + (row.empty() ? 0 : 1);
    const std::string more = absl::StrCat(" +", windows_.size() - i);
    const bool last = i + 1 == windows_.size();
    if (used + tab_width + (last ? 0 : TextColumns(more)) > width) {
      // The hidden tabs' activity shows on the "+N": a mention there is not lost.
      Style hidden = Style::kBar;
      for (size_t k = i; k < windows_.size(); ++k) {
        if (windows_[k]->mentioned()) {
          hidden = Style::kTabMention;
        } else if (windows_[k]->unread() > 0 && hidden == Style::kBar) {
          hidden = Style::kTabUnread;
        }
      }
      if (used + TextColumns(more) <= width) row.push_back({more, hidden, 0});
      break;
    }
    if (!row.empty()) row.push_back({" ", Style::kBar, 0});
    row.push_back({tab, style, 0});
    used += tab_width;
  }
  return row;
}

}  // namespace muxchat::client
