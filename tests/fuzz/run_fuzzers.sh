#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time (first argument: seconds per target, default
# 60), starting from the checked-in seed corpus. Crashers, leaks and timeouts are written to
# <workspace>/runs/fuzz/<target>/; copy each into tests/fuzz/regressions/<reader>/ so
# regression_test replays it. Exits non-zero if any target found one.
set -uo pipefail
seconds=${1:-60}
here=$(dirname "$0")
[[ -d "$here/tests/fuzz" ]] || here="$0.runfiles/dlf"
out=${BUILD_WORKSPACE_DIRECTORY:-$PWD}/runs/fuzz
failed=0
for target in cifar10 idx safetensors onnx; do
  work="$out/$target"
  mkdir -p "$work/corpus"
  cp -n "$here/tests/fuzz/corpus/$target/"* "$work/corpus/" 2>/dev/null
  echo "== ${target}_fuzzer: ${seconds}s, corpus $work/corpus"
  if ! "$here/tests/fuzz/${target}_fuzzer" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" \
      > "$work/log.txt" 2>&1; then
    echo "   FOUND A PROBLEM: see $work/log.txt and the crash-*/leak-*/timeout-* files there"
    failed=1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$work/log.txt" | sed 's/^/   /'
done
exit $failed
