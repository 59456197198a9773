#include "src/client/display_width.h"

#include <utf8proc.h>

namespace muxchat::client {

DecodedChar DecodeUtf8(absl::string_view s) {
  utf8proc_int32_t cp = -1;
  const utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                              static_cast<utf8proc_ssize_t>(s.size()), &cp);
  if (n <= 0 || cp < 0) return {0xfffd, 1};
  return {static_cast<char32_t>(cp), static_cast<size_t>(n)};
}

int CodePointWidth(char32_t code_point) {
  if (code_point < 0x20 || (code_point >= 0x7f && code_point < 0xa0)) return 0;
  const int w = utf8proc_charwidth(static_cast<utf8proc_int32_t>(code_point));
  return w < 0 ? 0 : (w > 2 ? 2 : w);
}

size_t DisplayWidth(absl::string_view utf8) {
  size_t width = 0;
  while (!utf8.empty()) {
    const DecodedChar c = DecodeUtf8(utf8);
    width += static_cast<size_t>(CodePointWidth(c.code_point));
    utf8.remove_prefix(c.bytes);
  }
  return width;
}

absl::string_view PrefixFittingWidth(absl::string_view utf8, size_t columns) {
  size_t width = 0;
  size_t end = 0;
  while (end < utf8.size()) {
    const DecodedChar c = DecodeUtf8(utf8.substr(end));
    const size_t w = static_cast<size_t>(CodePointWidth(c.code_point));
    if (width + w > columns) break;
    width += w;
    end += c.bytes;
  }
  return utf8.substr(0, end);
}

}  // namespace muxchat::client
