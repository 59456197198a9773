// Text measured in terminal columns for the full-screen client: UTF-8 to
// code points and back, the columns of each code point (from display_width.h,
// utf8proc: CJK and most emoji take two columns, combining marks none), and
// wrapping to a width without splitting a character. Invalid UTF-8 decodes to
// U+FFFD. Pure functions; safe from any thread.
#ifndef MUXCHAT_CLIENT_TUI_TEXT_H_
#define MUXCHAT_CLIENT_TUI_TEXT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace muxchat::client {

std::u32string ToCodePoints(absl::string_view text);
std::string ToUtf8(std::u32string_view text);

// Columns a code point occupies: 0 (combining, zero-width), 1 or 2; control
// characters (never drawn raw) count as 1.
int CodePointColumns(char32_t c);
int TextColumns(absl::string_view utf8);
int TextColumns(std::u32string_view text);

// Splits `utf8` into rows of at most `width` columns (width >= 2), breaking
// after the last space of a row when there is one and at a character
// boundary otherwise. An empty text gives one empty row.
std::vector<std::string> WrapToWidth(absl::string_view utf8, int width);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_TUI_TEXT_H_
