// What a login costs the hasher's worker: one Argon2id hash or verify at the
// default cost (t=2, m=19 MiB), end to end through the queue and the
// completion eventfd, as the loop would see it. Sets the queue bound
// (PasswordHasher::kDefaultMaxOutstanding) in seconds of work.
#include <benchmark/benchmark.h>
#include <poll.h>

#include <string>
#include <vector>

#include "src/server/password_hasher.h"

namespace muxchat::server {
namespace {

PasswordResult RunOne(PasswordHasher& hasher, bool verify, const std::string& stored) {
  const bool queued = verify ? hasher.Verify(1, "correct horse battery", stored)
                             : hasher.Hash(1, "correct horse battery");
  if (!queued) return {};
  std::vector<PasswordResult> out;
  while (out.empty()) {
    pollfd p{hasher.completion_fd(), POLLIN, 0};
    ::poll(&p, 1, -1);
    hasher.TakeResults(&out);
  }
  return out[0];
}

void BM_PasswordHashDefaultCost(benchmark::State& state) {
  PasswordHasher hasher{PasswordCost()};
  for (auto _ : state) benchmark::DoNotOptimize(RunOne(hasher, false, ""));
}
BENCHMARK(BM_PasswordHashDefaultCost)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PasswordVerifyDefaultCost(benchmark::State& state) {
  PasswordHasher hasher{PasswordCost()};
  const std::string stored = RunOne(hasher, false, "").hash;
  for (auto _ : state) {
    if (!RunOne(hasher, true, stored).ok) state.SkipWithError("verify failed");
  }
}
BENCHMARK(BM_PasswordVerifyDefaultCost)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace muxchat::server

BENCHMARK_MAIN();
