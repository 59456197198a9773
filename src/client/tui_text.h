// Text measured in terminal columns for the full-screen client: UTF-8
// decoding and encoding, the display width of each code point (wcwidth: CJK
// and most emoji take two columns, combining marks none), and wrapping to a
// width without splitting a character. Invalid UTF-8 decodes to U+FFFD.
// Pure functions; any thread (wcwidth reads LC_CTYPE, which the CLI sets to a
// UTF-8 locale at start-up). Names differ from display_width.h (branch cli,
// utf8proc) on purpose, so both can link; CodePointColumns can delegate to
// its CodePointWidth once that is on main.
#ifndef MUXCHAT_CLIENT_TUI_TEXT_H_
#define MUXCHAT_CLIENT_TUI_TEXT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace muxchat::client {

std::u32string ToCodePoints(absl::string_view text);
std::string ToUtf8(std::u32string_view text);

// Columns a code point occupies: 0 (combining, zero-width), 1 or 2. Code
// points wcwidth does not know (unassigned, controls) count as 1, so a cursor
// computed from widths never lags behind what was drawn.
int CodePointColumns(char32_t c);
int TextColumns(absl::string_view utf8);
int TextColumns(std::u32string_view text);

// Splits `utf8` into rows of at most `width` columns (width >= 2), breaking
// after the last space of a row when there is one and at a character
// boundary otherwise. An empty text gives one empty row.
std::vector<std::string> WrapToWidth(absl::string_view utf8, int width);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_TUI_TEXT_H_
