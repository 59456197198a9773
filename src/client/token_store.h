// TokenStore: the session tokens the CLI keeps between runs, one per
// (server, account), in one file — by default $XDG_CONFIG_HOME/muxchat/tokens
// (~/.config/muxchat/tokens without XDG_CONFIG_HOME). The directory is made
// 0700 and the file is written 0600, atomically (temporary file + rename).
// Format: one "SERVER<TAB>ACCOUNT<TAB>TOKEN<TAB>EXPIRES_UNIX_MICROS" line per
// token; lines that do not parse are dropped on the next write.
//
// Thread rule: not thread-safe; one owner. Each call reads or rewrites the file.
#ifndef MUXCHAT_CLIENT_TOKEN_STORE_H_
#define MUXCHAT_CLIENT_TOKEN_STORE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace muxchat::client {

struct StoredToken {
  std::string token;
  int64_t expires_unix_micros = 0;  // 0 = unknown
};

class TokenStore {
 public:
  // The default file from XDG_CONFIG_HOME or HOME (getpwuid when HOME is
  // unset); kNotFound if neither gives a directory.
  static absl::StatusOr<std::string> DefaultPath();

  explicit TokenStore(std::string path) : path_(std::move(path)) {}

  // The token kept for `account` (case-insensitive) on `server` ("host:port");
  // nullopt if there is none, or it expired before `now_unix_micros`.
  absl::StatusOr<std::optional<StoredToken>> Find(const std::string& server, const std::string& account,
                                                   int64_t now_unix_micros) const;
  // Keeps `token` for (server, account), replacing an older one.
  // kInvalidArgument if a field holds a tab or newline.
  absl::Status Put(const std::string& server, const std::string& account, const StoredToken& token);
  // Forgets the token for (server, account); OK if there was none.
  absl::Status Remove(const std::string& server, const std::string& account);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_TOKEN_STORE_H_
