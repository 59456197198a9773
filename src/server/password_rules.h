// What a password must be for Register (docs/PROTOCOL.md, Register.password).
// Pure function; any thread.
#ifndef MUXCHAT_SERVER_PASSWORD_RULES_H_
#define MUXCHAT_SERVER_PASSWORD_RULES_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace muxchat::server {

// Shorter is guessable offline from a stolen hash in hours; NIST SP 800-63B
// asks for at least 8.
inline constexpr size_t kMinPasswordBytes = 8;
// Long enough for any passphrase or manager-generated secret; the bound keeps
// the bytes a request may make the hasher read (and wipe) small.
inline constexpr size_t kMaxPasswordBytes = 1024;

// OK if `password` is kMinPasswordBytes..kMaxPasswordBytes bytes with no NUL
// byte (a NUL would be cut off by anything that treats it as a C string, and
// no keyboard types one). Any other byte is allowed: valid UTF-8 is not
// required, since the password is only ever hashed. Otherwise
// kInvalidArgument with a message that never quotes the password.
absl::Status ValidatePassword(absl::string_view password);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_PASSWORD_RULES_H_
