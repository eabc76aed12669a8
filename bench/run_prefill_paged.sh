#!/usr/bin/env bash
# Builds native/ for the local GPU and runs the paged-prefill benchmark
# (bench/python/bench_prefill_paged.py: new tokens after a cached prefix,
# ours paged with page sizes 16 and 64 against ours on the contiguous cache
# and FlashAttention-2 varlen; every output checked). With PAGED_TESTS=1 the
# paged prefill tests (test_prefill_paged, test_prefill_paged_graph) are
# built and run first, so one GPU session gives both.
# Usage: bench/run_prefill_paged.sh [build dir] [bench_prefill_paged.py args...]
# Writes bench_prefill_paged.json and bench_prefill_paged.log into RESULTS
# (default: the build dir); the JSON also into $OUT when OUT is set.
# Env: CUDA_ARCH (default 90a), RESULTS, OUT, PAGED_TESTS, CMAKE_EXTRA (more
# cmake arguments), PYTHON (default python3).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="${1:-/tmp/paddedattn-bench-build}"
shift || true
# shellcheck source=bench/build_native.sh
source "$here/build_native.sh"
testing=OFF
targets=(paddedattn)
if [[ "${PAGED_TESTS:-0}" == 1 ]]; then
  testing=ON
  targets+=(test_prefill_paged)
fi
# shellcheck disable=SC2086  # CMAKE_EXTRA is a list of arguments
configure_native "$build" "$testing" ${CMAKE_EXTRA:-}
# The graph-capture test exists only in CUDA builds.
if [[ "$testing" == ON ]] && grep -q "test_prefill_paged_graph" "$build/build.ninja" "$build/Makefile" 2>/dev/null; then
  targets+=(test_prefill_paged_graph)
fi
build_native "$build" "${targets[@]}"
results="${RESULTS:-$build}"
mkdir -p "$results"
status=0
if [[ "$testing" == ON ]]; then
  for t in "${targets[@]:1}"; do
    if timeout 300 "$build/$t" > "$results/$t.log" 2>&1; then echo "$t: passed ($(tail -1 "$results/$t.log"))"
    else rc=$?; [[ $rc == 77 ]] && echo "$t: skipped (no GPU)" || { echo "$t: FAILED ($rc)"; tail -20 "$results/$t.log"; status=1; }
    fi
  done
fi
PYTHONUNBUFFERED=1 PADDEDATTN_NATIVE_LIB="$lib" PYTHONPATH="$repo/bindings/python${PYTHONPATH:+:$PYTHONPATH}" \
  "${PYTHON:-python3}" "$here/python/bench_prefill_paged.py" --json "$results/bench_prefill_paged.json" "$@" \
  | tee "$results/bench_prefill_paged.log" || status=1
echo "results: $results/bench_prefill_paged.json, $results/bench_prefill_paged.log"
exit $status
