#include "src/server/password_rules.h"

#include "absl/strings/str_cat.h"

namespace muxchat::server {

absl::Status ValidatePassword(absl::string_view password) {
  if (password.size() < kMinPasswordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("password must be at least ", kMinPasswordBytes, " bytes"));
  }
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("password is longer than ", kMaxPasswordBytes, " bytes"));
  }
  if (password.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("password must not contain a NUL byte");
  }
  return absl::OkStatus();
}

}  // namespace muxchat::server
