// Session tokens (Welcome.session_token): 256 random bits a client presents in
// Hello.token or Resume.token instead of its password. Only a token's SHA-256
// is ever stored (SessionRecord.token_hash), so a leaked database cannot be
// replayed as logins. Pure functions; any thread.
#ifndef MUXCHAT_SERVER_SESSION_TOKEN_H_
#define MUXCHAT_SERVER_SESSION_TOKEN_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace muxchat::server {

inline constexpr size_t kSessionTokenRandomBytes = 32;
// 32 bytes in unpadded base64url: ceil(256 / 6) characters.
inline constexpr size_t kSessionTokenChars = 43;
inline constexpr size_t kSessionTokenHashBytes = 32;  // SHA-256

// A new token from libsodium's CSPRNG: kSessionTokenChars characters of
// [A-Za-z0-9_-]. Aborts only if libsodium cannot initialise, which
// InitSodiumOnce() at startup reports first.
std::string NewSessionToken();

// The key a token is stored and looked up under: the raw 32-byte SHA-256 of
// the token's characters. Tokens are 256 random bits, so a plain hash (no
// salt, no slow KDF) is enough, and comparing these hashes in a hash map
// leaks nothing useful by timing: a match needs a preimage.
std::string HashSessionToken(absl::string_view token);

// True if `token` could have come from NewSessionToken: exactly
// kSessionTokenChars base64url characters whose last one carries no stray
// bits. Check before hashing so garbage (or a 1 MiB "token") is refused
// cheaply and never reaches the store.
bool LooksLikeSessionToken(absl::string_view token);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_SESSION_TOKEN_H_
