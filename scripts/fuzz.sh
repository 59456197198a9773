#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang + ASan + UBSan into
# build-fuzz and runs each for SECONDS seconds (default 60), starting from the
# committed seed corpus. A crash, leak or broken invariant fails the script and
# leaves the input in build-fuzz/artifacts/: copy it into
# tests/fuzz/regressions/<target>/ so ctest's fuzz_corpus_test replays it.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (targets: frame_decoder chat_service websocket_decoder http_request_parser connection_front cluster_payload)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(frame_decoder chat_service websocket_decoder http_request_parser connection_front cluster_payload); fi

bash scripts/install-deps.sh
# Debian bookworm's clang 14 and its libFuzzer runtime.
if ! command -v clang++-14 >/dev/null ||
  ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "fuzz: installing clang-14 and libclang-rt-14-dev"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev
fi

build_dir=build-fuzz
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build_dir" -DMUXCHAT_FUZZ=ON -DMUXCHAT_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]/%/_fuzzer}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$build_dir/artifacts"
for t in "${targets[@]}"; do
  # The fuzzer grows its working corpus in build-fuzz; the committed seeds are read only.
  work="$build_dir/corpus/$t"
  mkdir -p "$work"
  echo "=== fuzz $t for ${seconds}s"
  log="$build_dir/fuzz-$t.log"
  if ! "$build_dir/tests/fuzz/${t}_fuzzer" "$work" "tests/fuzz/corpus/$t" \
    -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
    -artifact_prefix="$build_dir/artifacts/${t}-" >"$log" 2>&1; then
    tail -n 80 "$log" >&2
    echo "fuzz: $t FAILED; crashing input in $build_dir/artifacts/ (full log $log)" >&2
    exit 1
  fi
  grep -E '^(Done|stat::(number_of_executed_units|new_units_added|peak_rss_mb))' "$log"
done
echo "fuzz: all targets ran ${seconds}s without a crash"
