#include "src/client/nick_colour.h"

#include <cstdint>

#include "absl/strings/ascii.h"

namespace muxchat::client {

int NickColour(absl::string_view nick) {
  uint32_t hash = 2166136261u;
  for (const char c : nick) {
    hash ^= static_cast<unsigned char>(absl::ascii_tolower(static_cast<unsigned char>(c)));
    hash *= 16777619u;
  }
  return static_cast<int>(hash % kNickColours);
}

}  // namespace muxchat::client
