// A stable colour per nickname for the full-screen client, so a speaker is
// recognised at a glance: the same nick (in any letter case) always gets the
// same slot of a small palette, on every run and every machine.
// Pure function; any thread.
#ifndef MUXCHAT_CLIENT_NICK_COLOUR_H_
#define MUXCHAT_CLIENT_NICK_COLOUR_H_

#include "absl/strings/string_view.h"

namespace muxchat::client {

// Palette slots: twelve hues on 256-colour terminals; red, green, yellow,
// blue, magenta, cyan and their bright variants on 16; the six on 8.
inline constexpr int kNickColours = 12;

// A slot in [0, kNickColours), from an FNV-1a hash of the lower-cased nick.
int NickColour(absl::string_view nick);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_NICK_COLOUR_H_
