#include "src/client/room_members.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace muxchat::client {

void RoomMembers::Add(const std::string& nick) { names_.emplace(absl::AsciiStrToLower(nick), nick); }
void RoomMembers::Remove(const std::string& nick) { names_.erase(absl::AsciiStrToLower(nick)); }

void RoomMembers::Replace(const std::vector<std::string>& names) {
  names_.clear();
  for (const std::string& nick : names) Add(nick);
  count_ = static_cast<uint32_t>(names_.size());
}

std::vector<std::string> RoomMembers::Known() const {
  std::vector<std::string> out;
  out.reserve(names_.size());
  for (const auto& [lower, nick] : names_) out.push_back(nick);
  return out;
}

std::string RoomMembers::Describe(const std::string& room) const {
  std::string text = absl::StrCat("names in ", room, " (", count_, ")");
  if (!names_.empty()) absl::StrAppend(&text, ": ", absl::StrJoin(Known(), ", "));
  if (count_ > names_.size()) {
    absl::StrAppend(&text, names_.empty() ? ": " : ", and ", count_ - names_.size(),
                    names_.empty() ? "" : " more", " unnamed (this server does not list members)");
  }
  return text;
}

}  // namespace muxchat::client
