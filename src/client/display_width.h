// Display width of UTF-8 text on a terminal: how many columns each code point
// takes (0 for combining marks and other zero-width characters, 2 for East
// Asian wide characters and emoji, 1 otherwise), from utf8proc's Unicode
// tables, so the answer does not depend on the C library's locale data.
// Used to align tables and to place the cursor in a wrapped input line.
// Pure functions; safe from any thread.
#ifndef MUXCHAT_CLIENT_DISPLAY_WIDTH_H_
#define MUXCHAT_CLIENT_DISPLAY_WIDTH_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace muxchat::client {

// One decoded code point and how many bytes of input it took. Invalid or
// truncated UTF-8 decodes as U+FFFD taking 1 byte, so every byte is consumed.
struct DecodedChar {
  char32_t code_point = 0;
  size_t bytes = 0;
};

// Decodes the code point at the start of `s` (which must not be empty).
DecodedChar DecodeUtf8(absl::string_view s);

// Columns one code point takes: 0, 1 or 2. Control characters (C0, DEL, C1)
// count 0: callers show them through a visible stand-in (see
// SanitizeForTerminal), never raw.
int CodePointWidth(char32_t code_point);

// Columns `utf8` takes when printed on one line (the sum over its code points).
size_t DisplayWidth(absl::string_view utf8);

// The longest prefix of `utf8` that fits in `columns`, never splitting a
// code point; zero-width code points after the last fitting one are kept.
absl::string_view PrefixFittingWidth(absl::string_view utf8, size_t columns);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_DISPLAY_WIDTH_H_
