// The cost of metrics: rendering /metrics (paid once per scrape, on the loop
// thread) and counting a request (paid on every request).
#include <benchmark/benchmark.h>

#include <string>

#include "absl/time/clock.h"
#include "src/server/metrics.h"

namespace muxchat::server {
namespace {

void BM_RenderPrometheusText(benchmark::State& state) {
  Metrics m;
  for (int t = 0; t < kMetricRequestTypeCount; ++t) {
    for (int s = 0; s < kMetricStatusCount; ++s) m.requests[t][s] = 1000 + t * s;
  }
  for (int i = 0; i < 1000; ++i) m.fanout.ObserveNs(i * 1000);
  MetricsGauges g;
  g.connections[0][4] = 10000;
  const absl::Time now = absl::Now();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = RenderPrometheusText(m, g, now);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderPrometheusText);

void BM_CountRequest(benchmark::State& state) {
  Metrics m;
  for (auto _ : state) {
    m.CountRequest(v1::ClientFrame::kSendMessage, v1::SUCCESS);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CountRequest);

}  // namespace
}  // namespace muxchat::server

BENCHMARK_MAIN();
