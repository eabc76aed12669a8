#!/usr/bin/env bash
# Builds native/ for the local GPU and runs the prefill benchmark against the
# PyTorch peers (every case, every peer; pass --quick for the short subset).
# Usage: bench/run_prefill.sh [build dir] [bench_prefill.py args...]
# Writes bench_prefill.json (all numbers) and bench_prefill.log (ending with
# the tables) into RESULTS (default: the build dir).
# Env: CUDA_ARCH (default 90a), RESULTS, OUT (the JSON is also written there).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="${1:-/tmp/paddedattn-bench-build}"
shift || true
# shellcheck source=bench/build_native.sh
source "$here/build_native.sh"
configure_native "$build" OFF
build_native "$build" paddedattn
results="${RESULTS:-$build}"
mkdir -p "$results"
PADDEDATTN_NATIVE_LIB="$lib" PYTHONPATH="$repo/bindings/python${PYTHONPATH:+:$PYTHONPATH}" python3 "$here/python/bench_prefill.py" --json "$results/bench_prefill.json" "$@" \
  | tee "$results/bench_prefill.log"
echo "results: $results/bench_prefill.json, $results/bench_prefill.log"
