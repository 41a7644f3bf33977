#!/usr/bin/env bash
# Runs a libFuzzer campaign on one fuzz target (fuzz/fuzz_TARGET.c) for SECONDS, built with
# clang, ASan and UBSan into build-fuzz/. The committed seeds (fuzz/corpus/TARGET/, plus the
# conformance data where it fits) are read; what the campaign adds goes to
# build-fuzz/corpus/TARGET/ (keep it, or merge the best of it into the seeds with
#   build-fuzz/fuzz_TARGET -merge=1 fuzz/corpus/TARGET build-fuzz/corpus/TARGET).
# Findings (crash-*, timeout-*, leak-*, oom-*) land in build-fuzz/findings/TARGET/; each one
# fixed becomes a file of fuzz/corpus/TARGET/ so that ctest replays it from then on.
#   usage: scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags]
#   targets: gguf tokenizer request template conversation stream
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
target=$1 seconds=$2
shift 2
[ -f "fuzz/fuzz_$target.c" ] || { echo "no fuzz target '$target' (fuzz/fuzz_$target.c)"; exit 2; }
cc=$(command -v clang-14 || command -v clang || true)
[ -n "$cc" ] || { echo "clang is needed for libFuzzer (apt-get install clang)"; exit 2; }
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release -DBB_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "fuzz_$target" >/dev/null
mkdir -p "build-fuzz/corpus/$target" "build-fuzz/findings/$target"
seeds=("fuzz/corpus/$target")
testdata=${BB_TESTDATA:-../shared/testdata}
case $target in
  template) [ -d "$testdata/chat" ] && seeds+=("$testdata/chat") ;;
esac
dict=()
[ -f "fuzz/corpus/$target.dict" ] && dict=(-dict="fuzz/corpus/$target.dict")
# hangs: over 1 s an input; memory: 2 GB for the process and for any one allocation
exec "build-fuzz/fuzz_$target" "build-fuzz/corpus/$target" "${seeds[@]}" "${dict[@]}" \
  -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$target/" "$@"
