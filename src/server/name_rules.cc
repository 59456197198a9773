#include "src/server/name_rules.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace muxchat::server {
namespace {

// Decodes one UTF-8 scalar at s[*i], advancing *i; returns -1 if invalid
// (overlong, surrogate, beyond U+10FFFF, or truncated).
int32_t NextCodePoint(absl::string_view s, size_t* i) {
  const auto b0 = static_cast<unsigned char>(s[*i]);
  int len;
  int32_t cp;
  if (b0 < 0x80) {
    ++*i;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return -1;
  }
  if (*i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[*i + k]);
    if ((b & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *i += len;
  return cp;
}

bool IsControl(int32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

bool IsBidiOrInvisible(int32_t cp) {
  return cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF || cp == 0x061C;
}

bool IsSpace(int32_t cp) {
  return cp == ' ' || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace

absl::Status ValidateName(absl::string_view name, size_t max_bytes, absl::string_view what) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " must not be empty"));
  if (name.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is longer than ", max_bytes, " bytes"));
  }
  size_t i = 0;
  while (i < name.size()) {
    const int32_t cp = NextCodePoint(name, &i);
    if (cp < 0) return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8"));
    if (IsControl(cp)) return absl::InvalidArgumentError(absl::StrCat(what, " contains a control character"));
    if (IsSpace(cp)) return absl::InvalidArgumentError(absl::StrCat(what, " contains whitespace"));
    if (IsBidiOrInvisible(cp)) {
      return absl::InvalidArgumentError(absl::StrCat(what, " contains a bidirectional or invisible format character"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateMessageText(absl::string_view text, size_t max_bytes) {
  if (text.empty()) return absl::InvalidArgumentError("message text must not be empty");
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("message text is longer than ", max_bytes, " bytes"));
  }
  // Fast path: most chat text is printable ASCII, checked 8 bytes at a time
  // (the classic "has byte less than / more than" word tricks; a false alarm
  // only sends the rest to the exact path below).
  size_t i = 0;
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  while (i + 8 <= text.size()) {
    uint64_t w;
    std::memcpy(&w, text.data() + i, 8);
    const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;  // some byte < 0x20
    const uint64_t del_or_above = ((w + kOnes) | w) & kHighs;        // some byte >= 0x7F
    if ((below_space | del_or_above) != 0) break;
    i += 8;
  }
  while (i < text.size()) {
    const int32_t cp = NextCodePoint(text, &i);
    if (cp < 0) return absl::InvalidArgumentError("message text is not valid UTF-8");
    if (IsControl(cp) && cp != '\t' && cp != '\n') {
      return absl::InvalidArgumentError("message text contains a control character");
    }
  }
  return absl::OkStatus();
}

std::string FoldName(absl::string_view name) { return absl::AsciiStrToLower(name); }

}  // namespace muxchat::server
