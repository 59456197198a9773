#!/usr/bin/env bash
# Installs missing dependencies, builds muxchat with warnings as errors and
# runs every test under ctest, except the soak (label `soak`: see --soak).
#   scripts/test.sh [extra ctest args...]   build/, all tests but the soak, then the web
#                                           client's browser test (scripts/web-test.sh)
#   scripts/test.sh --sanitize [args...]    build-asan/, the same under ASan + UBSan
#   scripts/test.sh --tsan [args...]        build-tsan/, ThreadSanitizer over what uses
#                                           threads: the in-process server tests
#                                           (server_test, adversarial_test, tls_server_test,
#                                           cluster_subscriber_test: two nodes in two threads,
#                                           account_adversarial_test), the password
#                                           hasher's worker thread and the soak
#   scripts/test.sh --soak [args...]        build/, only the small soak (ctest -L soak)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
cmake_args=(-DMUXCHAT_WERROR=ON)
targets=()
ctest_runs=("-LE soak")
web_test=1
case "${1:-}" in
  --sanitize)
    shift
    web_test=0
    build_dir=build-asan
    cmake_args+=(-DMUXCHAT_SANITIZE=ON -DMUXCHAT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    ;;
  --tsan)
    shift
    web_test=0
    build_dir=build-tsan
    cmake_args+=(-DMUXCHAT_TSAN=ON -DMUXCHAT_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo)
    targets=(server_test adversarial_test tls_server_test cluster_subscriber_test account_adversarial_test
             password_hasher_test muxchatd muxchat_soak)
    ctest_runs=("-R ^(Pollers/(ServerTest|AdversarialTest|TlsServer|AccountAdversarialTest)|ServerListen|ClusterSubscriberTest|PasswordHasher)\." "-L soak -V")
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    ;;
  --soak)
    shift
    web_test=0
    targets=(muxchatd muxchat_soak)
    ctest_runs=("-L soak -V")
    ;;
esac

bash scripts/install-deps.sh
cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
if ((${#targets[@]} > 0)); then
  cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}"
else
  cmake --build "$build_dir" -j"$(nproc)"
fi
for run in "${ctest_runs[@]}"; do
  # shellcheck disable=SC2086  # each run is "-X value"; the value has no spaces
  ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" $run "$@"
done
# The browser test against the muxchatd just built (skipped when ctest was
# given a filter: that run is about the C++ tests).
if ((web_test)) && (($# == 0)); then bash scripts/web-test.sh; fi
