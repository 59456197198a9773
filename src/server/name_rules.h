// Validation and case folding of user-chosen names (nicknames, room names).
// Pure functions; any thread.
#ifndef MUXCHAT_SERVER_NAME_RULES_H_
#define MUXCHAT_SERVER_NAME_RULES_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace muxchat::server {

inline constexpr size_t kMaxNicknameBytes = 32;

// OK if `name` is 1..max_bytes of valid UTF-8 with no whitespace, no control
// characters (C0, DEL, C1), no bidirectional controls and no BOM; otherwise
// kInvalidArgument saying what is wrong. `what` names the thing ("nickname").
absl::Status ValidateName(absl::string_view name, size_t max_bytes, absl::string_view what);

// OK if `text` is valid UTF-8 of 1..max_bytes bytes with no control
// characters other than tab and newline.
absl::Status ValidateMessageText(absl::string_view text, size_t max_bytes);

// The key under which names are unique: ASCII case folded. Non-ASCII letters
// are compared as given (full Unicode folding is out of scope for v1).
std::string FoldName(absl::string_view name);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_NAME_RULES_H_
