#!/usr/bin/env bash
# Installs missing dependencies, builds muxchat with warnings as errors and
# runs every test under ctest. With --sanitize, builds into build-asan with
# AddressSanitizer + UndefinedBehaviorSanitizer instead.
#   scripts/test.sh [--sanitize] [extra ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DMUXCHAT_WERROR=ON)
if [[ "${1:-}" == "--sanitize" ]]; then
  shift
  build_dir=build-asan
  cmake_args+=(-DMUXCHAT_SANITIZE=ON -DMUXCHAT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

bash scripts/install-deps.sh
cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "$@"
