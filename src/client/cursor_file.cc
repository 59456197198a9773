#include "src/client/cursor_file.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/client/atomic_file.h"

namespace muxchat::client {
namespace {

constexpr absl::string_view kHeader = "# muxchat cursor v1";

}  // namespace

absl::Status CursorFile::Load() {
  auto text = ReadWholeFile(path_);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  if (!text.ok()) return text.status();
  if (text->empty()) return absl::OkStatus();
  if (!absl::StartsWith(*text, kHeader)) {
    return absl::DataLossError(absl::StrCat(path_, " is not a muxchat cursor file"));
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits('\t', 2));
    RoomCursorEntry e;
    if (f.size() != 3 || f[2].empty() || !absl::SimpleAtoi(f[0], &e.room_id) || !absl::SimpleAtoi(f[1], &e.last_seq)) {
      return absl::DataLossError(absl::StrCat(path_, ": malformed line '", line, "'"));
    }
    const std::string key = absl::AsciiStrToLower(f[2]);
    rooms_[key] = e;
    names_[key] = f[2];
  }
  return absl::OkStatus();
}

const RoomCursorEntry* CursorFile::Find(const std::string& room) const {
  auto it = rooms_.find(absl::AsciiStrToLower(room));
  return it == rooms_.end() ? nullptr : &it->second;
}

void CursorFile::Advance(const std::string& room, uint64_t room_id, uint64_t seq) {
  const std::string key = absl::AsciiStrToLower(room);
  RoomCursorEntry& e = rooms_[key];
  names_[key] = room;
  if (e.room_id != room_id) e = RoomCursorEntry{room_id, 0};
  if (seq > e.last_seq) {
    e.last_seq = seq;
    dirty_ = true;
  } else if (seq == 0 && e.last_seq == 0) {
    dirty_ = true;  // a new room: its ID is worth keeping too
  }
}

absl::Status CursorFile::MaybeSave(absl::Time now, bool force) {
  if (!dirty_) return absl::OkStatus();
  if (!force && now - last_save_ < kSaveInterval) return absl::OkStatus();
  std::string text = absl::StrCat(kHeader, "\n");
  for (const auto& [key, e] : rooms_) absl::StrAppend(&text, e.room_id, "\t", e.last_seq, "\t", names_[key], "\n");
  if (absl::Status s = WriteFileAtomically(path_, text, 0644); !s.ok()) return s;
  dirty_ = false;
  last_save_ = now;
  return absl::OkStatus();
}

}  // namespace muxchat::client
