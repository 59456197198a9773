#include "src/client/reconnect_backoff.h"

#include <algorithm>
#include <memory>
#include <random>
#include <utility>

namespace muxchat::client {

ReconnectBackoff::ReconnectBackoff(Options options, std::function<double()> uniform01)
    : options_(options), uniform01_(std::move(uniform01)), nominal_(options.first) {
  if (!uniform01_) {
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    uniform01_ = [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
  }
}

absl::Duration ReconnectBackoff::Next() {
  const absl::Duration nominal = nominal_;
  nominal_ = std::min(nominal_ * 2, options_.max);
  const double u = std::clamp(uniform01_(), 0.0, 1.0);
  const double factor = 1.0 - options_.jitter + 2.0 * options_.jitter * u;
  return nominal * factor;
}

}  // namespace muxchat::client
