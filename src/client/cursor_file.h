// CursorFile: where `muxchat --listen --cursor FILE` stopped reading, per
// room: the room's name, its ID and the newest seq printed. Loaded at start
// so a restarted listener continues after that seq; saved atomically
// (temporary file + rename), at most every kSaveInterval while messages
// arrive and always at exit, so a crash repeats at most that window.
// Format: "# muxchat cursor v1" then one "ROOM_ID<TAB>SEQ<TAB>NAME" line per room.
//
// Thread rule: not thread-safe; one owner.
#ifndef MUXCHAT_CLIENT_CURSOR_FILE_H_
#define MUXCHAT_CLIENT_CURSOR_FILE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace muxchat::client {

struct RoomCursorEntry {
  uint64_t room_id = 0;
  uint64_t last_seq = 0;  // the newest seq handled; 0 = none yet
};

class CursorFile {
 public:
  static constexpr absl::Duration kSaveInterval = absl::Milliseconds(100);

  explicit CursorFile(std::string path) : path_(std::move(path)) {}

  // Reads the file; a missing file is an empty cursor set. kDataLoss for a
  // file that is not a cursor file (so a wrong path is never overwritten).
  absl::Status Load();
  // The cursor of `room` (ASCII case-insensitive name), if known.
  const RoomCursorEntry* Find(const std::string& room) const;
  // Records that `seq` of `room` was handled. A different room_id under the
  // same name (the room was deleted and made again) starts it over.
  void Advance(const std::string& room, uint64_t room_id, uint64_t seq);
  // Writes the file if anything changed since the last save and either
  // `force` or kSaveInterval has passed since then.
  absl::Status MaybeSave(absl::Time now, bool force);

  const std::map<std::string, RoomCursorEntry>& rooms() const { return rooms_; }

 private:
  std::string path_;
  std::map<std::string, RoomCursorEntry> rooms_;  // by lower-cased name
  std::map<std::string, std::string> names_;      // lower-cased -> as given
  bool dirty_ = false;
  absl::Time last_save_ = absl::InfinitePast();
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_CURSOR_FILE_H_
