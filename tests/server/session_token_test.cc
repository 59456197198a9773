#include "src/server/session_token.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

TEST(SessionToken, Is43Base64UrlCharacters) {
  const std::string token = NewSessionToken();
  ASSERT_EQ(token.size(), 43u);
  for (char c : token) {
    EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
        << "unexpected character " << c;
  }
}

TEST(SessionToken, NewTokensLookLikeTokens) {
  for (int i = 0; i < 1000; ++i) {
    const std::string token = NewSessionToken();
    ASSERT_TRUE(LooksLikeSessionToken(token)) << token;
  }
}

TEST(SessionToken, TenThousandTokensAreDistinct) {
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(NewSessionToken());
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(SessionToken, HashIs32BytesAndDeterministic) {
  const std::string token = NewSessionToken();
  const std::string h1 = HashSessionToken(token);
  EXPECT_EQ(h1.size(), 32u);
  EXPECT_EQ(HashSessionToken(token), h1);
}

TEST(SessionToken, HashIsSha256OfTheCharacters) {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  const std::string expected(
      "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23"
      "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad",
      32);
  EXPECT_EQ(HashSessionToken("abc"), expected);
}

TEST(SessionToken, DifferentTokensHashDifferently) {
  EXPECT_NE(HashSessionToken(NewSessionToken()), HashSessionToken(NewSessionToken()));
}

TEST(SessionToken, RejectsWrongLengths) {
  const std::string token = NewSessionToken();
  EXPECT_FALSE(LooksLikeSessionToken(""));
  EXPECT_FALSE(LooksLikeSessionToken(token.substr(0, 42)));
  EXPECT_FALSE(LooksLikeSessionToken(token + "A"));
  EXPECT_FALSE(LooksLikeSessionToken(std::string(1 << 20, 'A')));
}

TEST(SessionToken, RejectsCharactersOutsideBase64Url) {
  std::string token = NewSessionToken();
  for (char bad : {'+', '/', '=', ' ', '\0', '\n', '\xff'}) {
    std::string t = token;
    t[10] = bad;
    EXPECT_FALSE(LooksLikeSessionToken(t)) << static_cast<int>(bad);
  }
}

TEST(SessionToken, RejectsALastCharacterWithStrayBits) {
  // 'A' (0) and 'E' (4) end a 32-byte encoding; 'B' (1) and 'D' (3) cannot.
  const std::string body(42, 'A');
  EXPECT_TRUE(LooksLikeSessionToken(body + "A"));
  EXPECT_TRUE(LooksLikeSessionToken(body + "E"));
  EXPECT_FALSE(LooksLikeSessionToken(body + "B"));
  EXPECT_FALSE(LooksLikeSessionToken(body + "D"));
}

}  // namespace
}  // namespace muxchat::server
