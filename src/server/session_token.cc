#include "src/server/session_token.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

#include "src/server/sodium_init.h"

namespace muxchat::server {
namespace {

// Index of `c` in the base64url alphabet, or -1.
int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

void EnsureSodium() {
  const absl::Status s = InitSodiumOnce();
  if (!s.ok()) {
    // No random source means no safe token; serving on would be worse.
    std::fprintf(stderr, "muxchatd: %s\n", std::string(s.message()).c_str());
    std::abort();
  }
}

}  // namespace

std::string NewSessionToken() {
  EnsureSodium();
  unsigned char bytes[kSessionTokenRandomBytes];
  randombytes_buf(bytes, sizeof bytes);
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  char text[sodium_base64_ENCODED_LEN(kSessionTokenRandomBytes, kVariant)];
  static_assert(sizeof text == kSessionTokenChars + 1, "base64url of 32 bytes is 43 characters and a NUL");
  sodium_bin2base64(text, sizeof text, bytes, sizeof bytes, kVariant);
  sodium_memzero(bytes, sizeof bytes);
  std::string token(text, kSessionTokenChars);
  sodium_memzero(text, sizeof text);
  return token;
}

std::string HashSessionToken(absl::string_view token) {
  std::string hash(kSessionTokenHashBytes, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(hash.data()),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size());
  return hash;
}

bool LooksLikeSessionToken(absl::string_view token) {
  if (token.size() != kSessionTokenChars) return false;
  for (char c : token) {
    if (Base64UrlValue(c) < 0) return false;
  }
  // 43 characters carry 258 bits for 256: the last character's low two bits
  // are padding and always zero in an encoded token.
  return (Base64UrlValue(token.back()) & 0x3) == 0;
}

}  // namespace muxchat::server
