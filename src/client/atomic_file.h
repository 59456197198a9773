// Small files written so a reader (or a crash) never sees half of them: the
// bytes go to a temporary file beside the target, are fsync'ed, and the
// temporary is renamed over the target. Used for the token and cursor files.
// Thread rule: any thread; concurrent writers of one path: the last rename wins.
#ifndef MUXCHAT_CLIENT_ATOMIC_FILE_H_
#define MUXCHAT_CLIENT_ATOMIC_FILE_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace muxchat::client {

// Replaces `path` with `contents`, the file created with `mode` (the umask
// cannot widen or narrow it: it is set with fchmod). The directory must exist.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents, mode_t mode);

// The whole file; kNotFound if it does not exist.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// mkdir -p with `mode` for every directory it creates; an existing last
// component is chmod'ed to `mode` when `fix_last` (our own private directory).
absl::Status MakeDirectories(const std::string& path, mode_t mode, bool fix_last);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_ATOMIC_FILE_H_
