#!/usr/bin/env bash
# Sets up, builds and runs the test suite. --sanitize builds into build-asan/ with
# AddressSanitizer + UndefinedBehaviorSanitizer, and allocation-failure injection
# (BB_ALLOC_FAIL: tests/test_alloc_fail.c fails allocations one by one).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir=build
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DBB_SANITIZE=ON -DBB_ALLOC_FAIL=ON >/dev/null
  cmake --build "$dir" -j"$(nproc)"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 BB_SANITIZED=1
fi
cd "$dir" && ctest --output-on-failure -j"$(nproc)"
