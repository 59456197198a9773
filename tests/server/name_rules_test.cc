#include "src/server/name_rules.h"

#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

bool Valid(absl::string_view s, size_t max = 32) { return ValidateName(s, max, "name").ok(); }

TEST(NameRules, AcceptsPlainAndNonAsciiNames) {
  EXPECT_TRUE(Valid("alice"));
  EXPECT_TRUE(Valid("Bob_42"));
  EXPECT_TRUE(Valid("zoë"));
  EXPECT_TRUE(Valid("日本語"));
  EXPECT_TRUE(Valid("#general"));
}

TEST(NameRules, RejectsEmptyAndTooLong) {
  EXPECT_FALSE(Valid(""));
  EXPECT_TRUE(Valid(std::string(32, 'a')));
  EXPECT_FALSE(Valid(std::string(33, 'a')));
}

TEST(NameRules, RejectsWhitespaceAndControls) {
  EXPECT_FALSE(Valid("a b"));
  EXPECT_FALSE(Valid("a\tb"));
  EXPECT_FALSE(Valid("a\nb"));
  EXPECT_FALSE(Valid(std::string("a\0b", 3)));
  EXPECT_FALSE(Valid("a\x7f"));
  EXPECT_FALSE(Valid("a\xc2\x85"));      // U+0085, a C1 control
  EXPECT_FALSE(Valid("a\xe3\x80\x80"));  // U+3000 ideographic space
}

TEST(NameRules, RejectsBidiOverridesAndBom) {
  EXPECT_FALSE(Valid("evil\xe2\x80\xaegnp"));  // U+202E RIGHT-TO-LEFT OVERRIDE
  EXPECT_FALSE(Valid("x\xe2\x81\xa6y"));       // U+2066
  EXPECT_FALSE(Valid("\xef\xbb\xbfname"));     // U+FEFF
}

TEST(NameRules, RejectsInvalidUtf8) {
  EXPECT_FALSE(Valid("\xff"));
  EXPECT_FALSE(Valid("a\xc3"));              // truncated
  EXPECT_FALSE(Valid("\xc0\xaf"));           // overlong '/'
  EXPECT_FALSE(Valid("\xed\xa0\x80"));       // surrogate
  EXPECT_FALSE(Valid("\xf4\x90\x80\x80"));   // above U+10FFFF
}

TEST(NameRules, MessageTextAllowsNewlinesButNotOtherControls) {
  EXPECT_TRUE(ValidateMessageText("hello\nworld\tok", 100).ok());
  EXPECT_FALSE(ValidateMessageText("bell\a", 100).ok());
  EXPECT_FALSE(ValidateMessageText("", 100).ok());
  EXPECT_FALSE(ValidateMessageText(std::string(101, 'x'), 100).ok());
  EXPECT_FALSE(ValidateMessageText("\xff", 100).ok());
}

TEST(NameRules, MessageTextFastPathStillCatchesEveryBadByteAtAnyOffset) {
  const std::string base(40, 'a');
  EXPECT_TRUE(ValidateMessageText(base, 100).ok());
  for (size_t pos = 0; pos < base.size(); ++pos) {
    for (const std::string& bad : {std::string("\x01"), std::string("\x1f"), std::string("\x7f"),
                                  std::string("\xc2\x85"), std::string("\xff"), std::string(1, '\0')}) {
      std::string t = base;
      t.replace(pos, 1, bad);
      EXPECT_FALSE(ValidateMessageText(t, 100).ok()) << "offset " << pos;
    }
    std::string ok = base;
    ok[pos] = (pos % 2) ? '\n' : '~';
    EXPECT_TRUE(ValidateMessageText(ok, 100).ok()) << "offset " << pos;
    ok.replace(pos, 1, "\xc3\xa9");  // é
    EXPECT_TRUE(ValidateMessageText(ok, 100).ok()) << "offset " << pos;
  }
}

TEST(NameRules, FoldIsAsciiCaseInsensitive) {
  EXPECT_EQ(FoldName("AliCE"), FoldName("alice"));
  EXPECT_NE(FoldName("alice"), FoldName("alicf"));
}

}  // namespace
}  // namespace muxchat::server
