#include "src/server/sodium_init.h"

#include <sodium.h>

namespace muxchat::server {

absl::Status InitSodiumOnce() {
  // A function-local static is initialised once even with racing threads;
  // sodium_init() returns 1 (not an error) when already initialised.
  static const int result = sodium_init();
  if (result < 0) return absl::InternalError("libsodium could not initialise (sodium_init failed)");
  return absl::OkStatus();
}

}  // namespace muxchat::server
