// The loop-thread cost of login throttling and session tokens, paid on every
// Login (Check + Record*) and every Hello/Resume with a token (format check +
// SHA-256). The limiter is measured full (100,000 keys), where every new key
// also evicts one.
#include <benchmark/benchmark.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "src/server/login_limiter.h"
#include "src/server/session_token.h"

namespace muxchat::server {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

void BM_LoginLimiterFailureFullTable(benchmark::State& state) {
  LoginLimiter limiter;
  int i = 0;
  for (; i < 100000; ++i) limiter.RecordFailure(absl::StrCat("user", i), "10.0.0.1:1", kT0);
  for (auto _ : state) {
    const std::string name = absl::StrCat("user", i++);
    const std::string peer = absl::StrCat("10.", (i >> 16) & 255, ".", (i >> 8) & 255, ".", i & 255, ":4000");
    benchmark::DoNotOptimize(limiter.Check(name, peer, kT0));
    limiter.RecordFailure(name, peer, kT0);
  }
  state.counters["keys"] = static_cast<double>(limiter.tracked_keys());
}
BENCHMARK(BM_LoginLimiterFailureFullTable);

void BM_NewSessionToken(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(NewSessionToken());
}
BENCHMARK(BM_NewSessionToken);

void BM_CheckAndHashSessionToken(benchmark::State& state) {
  const std::string token = NewSessionToken();
  for (auto _ : state) {
    if (LooksLikeSessionToken(token)) benchmark::DoNotOptimize(HashSessionToken(token));
  }
}
BENCHMARK(BM_CheckAndHashSessionToken);

}  // namespace
}  // namespace muxchat::server

BENCHMARK_MAIN();
