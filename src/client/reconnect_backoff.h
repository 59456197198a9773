// ReconnectBackoff: the delays between reconnect attempts — exponential
// (first, doubling, capped) with ±jitter so that many clients cut off by one
// server restart do not all come back in the same instant. The randomness
// is injected, so the schedule is deterministic under test.
//
// Thread rule: not thread-safe; one owner. Pure apart from the random source.
#ifndef MUXCHAT_CLIENT_RECONNECT_BACKOFF_H_
#define MUXCHAT_CLIENT_RECONNECT_BACKOFF_H_

#include <functional>

#include "absl/time/time.h"

namespace muxchat::client {

class ReconnectBackoff {
 public:
  struct Options {
    absl::Duration first = absl::Milliseconds(500);
    absl::Duration max = absl::Seconds(30);
    double jitter = 0.25;  // each delay is the nominal one times [1 - jitter, 1 + jitter)
  };
  // `uniform01` returns numbers in [0, 1); the default draws from a
  // std::random_device-seeded generator.
  explicit ReconnectBackoff(Options options, std::function<double()> uniform01 = nullptr);

  // The delay before the next attempt; each call doubles the nominal delay
  // (up to max). The first call after construction or Reset() is `first`.
  absl::Duration Next();
  // After a successful reconnect: the next loss starts from `first` again.
  void Reset() { nominal_ = options_.first; }

 private:
  Options options_;
  std::function<double()> uniform01_;
  absl::Duration nominal_;
};

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_RECONNECT_BACKOFF_H_
