#include "src/client/tui_text.h"

#include "gtest/gtest.h"

namespace muxchat::client {
namespace {

TEST(TuiText, DecodeAndEncodeRoundTrip) {
  const std::string text = "a\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80";  // a é 你 😀
  EXPECT_EQ(ToCodePoints(text), (std::u32string{U'a', U'\u00e9', U'\u4f60', U'\U0001F600'}));
  EXPECT_EQ(ToUtf8(ToCodePoints(text)), text);
}

TEST(TuiText, InvalidBytesDecodeToReplacementCharacter) {
  EXPECT_EQ(ToCodePoints("a\xff" "b"), (std::u32string{U'a', 0xfffd, U'b'}));
  EXPECT_EQ(ToCodePoints("a\xe4\xbd"), (std::u32string{U'a', 0xfffd}));
}

TEST(TuiText, CjkAndEmojiTakeTwoColumnsCombiningMarksNone) {
  EXPECT_EQ(TextColumns("abc"), 3);
  EXPECT_EQ(TextColumns("\xe4\xbd\xa0\xe5\xa5\xbd"), 4);  // 你好
  EXPECT_EQ(TextColumns("\xf0\x9f\x98\x80"), 2);          // 😀
  EXPECT_EQ(TextColumns("e\xcc\x81"), 1);                 // e + combining acute
}

TEST(TuiText, WrapBreaksAfterTheLastSpaceThatFits) {
  EXPECT_EQ(WrapToWidth("hello big world", 10), (std::vector<std::string>{"hello big ", "world"}));
}

TEST(TuiText, WrapNeverSplitsAWideCharacterAcrossRows) {
  // Five CJK characters (10 columns) in 5 columns: two per row, the fifth column left empty.
  const std::string five = "\xe4\xb8\x80\xe4\xba\x8c\xe4\xb8\x89\xe5\x9b\x9b\xe4\xba\x94";
  const auto rows = WrapToWidth(five, 5);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) EXPECT_LE(TextColumns(row), 5);
}

TEST(TuiText, WrapOfEmptyTextIsOneEmptyRow) { EXPECT_EQ(WrapToWidth("", 10), (std::vector<std::string>{""})); }

}  // namespace
}  // namespace muxchat::client
