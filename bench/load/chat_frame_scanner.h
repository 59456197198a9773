// Reads the fields the load generator needs (sender, text, replay) out of a
// ServerFrame body that carries a chat_message, without building a message:
// no allocation, no copy, no UTF-8 check. The generator sees millions of
// these a second and must not be what limits a run; every other frame goes
// through the full protobuf parse. Pure function; any thread.
#ifndef MUXCHAT_BENCH_LOAD_CHAT_FRAME_SCANNER_H_
#define MUXCHAT_BENCH_LOAD_CHAT_FRAME_SCANNER_H_

#include "absl/strings/string_view.h"

namespace muxchat::bench {

struct ScannedChat {
  absl::string_view sender;
  absl::string_view text;
  bool replay = false;
};

// True if `body` (one frame without its length prefix) is a well-formed
// ServerFrame whose body is chat_message; the views point into `body`.
// False for any other frame, or bytes it cannot read (parse those fully).
bool ScanChatFrame(absl::string_view body, ScannedChat* out);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_CHAT_FRAME_SCANNER_H_
