#include "src/client/mention.h"

#include "absl/strings/ascii.h"

namespace muxchat::client {
namespace {

// Characters that can be part of a nickname, so a match next to one is part
// of a longer word. Bytes of multi-byte UTF-8 count as word characters.
bool IsWordByte(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return absl::ascii_isalnum(u) || c == '_' || c == '-' || u >= 0x80;
}

}  // namespace

bool MentionsNick(absl::string_view text, absl::string_view nick) {
  if (nick.empty() || text.size() < nick.size()) return false;
  for (size_t at = 0; at + nick.size() <= text.size(); ++at) {
    bool equal = true;
    for (size_t k = 0; k < nick.size() && equal; ++k) {
      equal = absl::ascii_tolower(static_cast<unsigned char>(text[at + k])) ==
              absl::ascii_tolower(static_cast<unsigned char>(nick[k]));
    }
    if (!equal) continue;
    const bool starts = at == 0 || !IsWordByte(text[at - 1]);
    const size_t end = at + nick.size();
    const bool ends = end == text.size() || !IsWordByte(text[end]);
    if (starts && ends) return true;
  }
  return false;
}

}  // namespace muxchat::client
