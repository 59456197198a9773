// Recorder: the AdapterEvents a benchmark adapter test hands its adapter,
// keeping what the adapter reported (ready count, payloads in order, the
// reasons of rejected requests). Header-only; tests only.
#ifndef MUXCHAT_TESTS_BENCH_ADAPTER_RECORDER_H_
#define MUXCHAT_TESTS_BENCH_ADAPTER_RECORDER_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "bench/load/protocol_adapter.h"

namespace muxchat::bench::testing {

struct Recorder : AdapterEvents {
  int ready = 0;
  std::vector<std::string> payloads;
  std::vector<std::string> rejected;
  void OnReady() override { ++ready; }
  void OnPayload(absl::string_view p) override { payloads.emplace_back(p); }
  void OnRejected(absl::string_view why) override { rejected.emplace_back(why); }
};

}  // namespace muxchat::bench::testing

#endif  // MUXCHAT_TESTS_BENCH_ADAPTER_RECORDER_H_
