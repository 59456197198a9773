#include "src/client/room_members.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace muxchat::client {

void RoomMembers::Add(const std::string& nick) { names_.emplace(absl::AsciiStrToLower(nick), nick); }
void RoomMembers::Remove(const std::string& nick) { names_.erase(absl::AsciiStrToLower(nick)); }

std::vector<std::string> RoomMembers::Known() const {
  std::vector<std::string> out;
  out.reserve(names_.size());
  for (const auto& [lower, nick] : names_) out.push_back(nick);
  return out;
}

std::string RoomMembers::Describe(const std::string& room) const {
  std::string text = absl::StrCat(room, ": ", count_, count_ == 1 ? " member" : " members");
  if (!names_.empty()) absl::StrAppend(&text, ": ", absl::StrJoin(Known(), " "));
  if (count_ > names_.size()) {
    const size_t unknown = count_ - names_.size();
    absl::StrAppend(&text, names_.empty() ? ": " : ", and ", unknown, " more who",
                    " joined before you and ", unknown == 1 ? "has" : "have",
                    " not spoken since (the server sends counts, not names)");
  }
  return text;
}

}  // namespace muxchat::client
