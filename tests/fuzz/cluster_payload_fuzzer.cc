// libFuzzer driver for FuzzClusterPayload (tests/fuzz/fuzz_targets.h). Built
// only with -DMUXCHAT_FUZZ=ON and clang; see scripts/fuzz.sh.
#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return muxchat::fuzz::FuzzClusterPayload(data, size);
}
