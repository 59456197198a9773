// libsodium's one-time initialisation (it seeds the random generator and picks
// the fastest implementations). Any thread; safe to call any number of times.
#ifndef MUXCHAT_SERVER_SODIUM_INIT_H_
#define MUXCHAT_SERVER_SODIUM_INIT_H_

#include "absl/status/status.h"

namespace muxchat::server {

// Calls sodium_init() the first time; later calls return its first result.
// kInternal if libsodium could not initialise (no usable random source), in
// which case nothing of libsodium may be used.
absl::Status InitSodiumOnce();

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_SODIUM_INIT_H_
