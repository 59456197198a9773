#include "src/client/display_width.h"

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

TEST(DisplayWidth, AsciiIsOneColumnPerCharacter) { EXPECT_EQ(DisplayWidth("lobby"), 5u); }

TEST(DisplayWidth, AccentedLettersAreOneColumn) { EXPECT_EQ(DisplayWidth("caf\xc3\xa9"), 4u); }

TEST(DisplayWidth, CjkIsTwoColumns) { EXPECT_EQ(DisplayWidth("\xe4\xbc\x9a\xe8\xad\xb0"), 4u); }  // 会議

TEST(DisplayWidth, EmojiIsTwoColumns) { EXPECT_EQ(DisplayWidth("\xf0\x9f\x98\x80"), 2u); }  // U+1F600

TEST(DisplayWidth, CombiningMarkIsZeroColumns) { EXPECT_EQ(DisplayWidth("e\xcc\x81"), 1u); }  // e + U+0301

TEST(DisplayWidth, ControlCharactersCountZero) { EXPECT_EQ(DisplayWidth("a\x1b" "b"), 2u); }

TEST(DisplayWidth, InvalidBytesDecodeAsReplacementOneByteEach) {
  const DecodedChar c = DecodeUtf8("\xff" "a");
  EXPECT_EQ(c.code_point, U'\xfffd');
  EXPECT_EQ(c.bytes, 1u);
}

TEST(DisplayWidth, PrefixFittingWidthNeverSplitsAWideCharacter) {
  EXPECT_EQ(PrefixFittingWidth("a\xe4\xbc\x9a" "b", 2), "a");
  EXPECT_EQ(PrefixFittingWidth("a\xe4\xbc\x9a" "b", 3), "a\xe4\xbc\x9a");
}

}  // namespace
}  // namespace muxchat::client
