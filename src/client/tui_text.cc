#include "src/client/tui_text.h"

#include "src/client/display_width.h"

namespace muxchat::client {

std::u32string ToCodePoints(absl::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    int more = 0;
    char32_t code = lead;
    if (lead < 0x80) {
      out.push_back(code);
      ++i;
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      more = 1;
      code = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      more = 2;
      code = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      more = 3;
      code = lead & 0x07;
    } else {
      out.push_back(0xfffd);
      ++i;
      continue;
    }
    if (i + static_cast<size_t>(more) >= text.size()) {
      out.push_back(0xfffd);  // truncated sequence at the end
      break;
    }
    bool ok = true;
    for (int k = 1; k <= more; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + static_cast<size_t>(k)]);
      if ((next & 0xc0) != 0x80) {
        ok = false;
        break;
      }
      code = (code << 6) | (next & 0x3f);
    }
    if (!ok) {
      out.push_back(0xfffd);
      ++i;
      continue;
    }
    out.push_back(code);
    i += static_cast<size_t>(more) + 1;
  }
  return out;
}

std::string ToUtf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) c = 0xfffd;
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  return out;
}

int CodePointColumns(char32_t c) {
  if (c < 0x7f) return 1;  // ASCII fast path (controls are sanitised before display)
  // The same Unicode tables as the line mode (utf8proc, display_width.h).
  // C1 controls never reach the screen raw; count them as one like the rest.
  const int w = CodePointWidth(c);
  return (c >= 0x80 && c < 0xa0) ? 1 : w;
}

int TextColumns(std::u32string_view text) {
  int width = 0;
  for (char32_t c : text) width += CodePointColumns(c);
  return width;
}

int TextColumns(absl::string_view utf8) { return TextColumns(ToCodePoints(utf8)); }

std::vector<std::string> WrapToWidth(absl::string_view utf8, int width) {
  if (width < 2) width = 2;
  const std::u32string text = ToCodePoints(utf8);
  std::vector<std::string> rows;
  size_t start = 0;
  while (start < text.size()) {
    int used = 0;
    size_t end = start;
    size_t last_space = std::u32string::npos;
    while (end < text.size()) {
      const int w = CodePointColumns(text[end]);
      if (used + w > width) break;
      used += w;
      if (text[end] == U' ') last_space = end;
      ++end;
    }
    if (end < text.size() && last_space != std::u32string::npos && last_space > start) end = last_space + 1;
    rows.push_back(ToUtf8(std::u32string_view(text).substr(start, end - start)));
    start = end;
  }
  if (rows.empty()) rows.emplace_back();
  return rows;
}

}  // namespace muxchat::client
