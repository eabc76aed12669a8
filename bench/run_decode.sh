#!/usr/bin/env bash
# Builds native/ (Release, CUDA) and runs the decode benchmark.
#   bench/run_decode.sh [build-dir] [-- extra bench_decode.py arguments]
# CUDA_ARCH (default 90a) picks the GPU architecture; the JSON goes to
# $OUT/bench_decode.json when OUT is set.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$repo/build/native-bench}"
shift || true
[[ "${1:-}" == "--" ]] && shift
cmake -S "$repo/native" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90a}" -DBUILD_TESTING=OFF > "$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)"
lib="$(find "$build" -name 'libpaddedattn.so' -print -quit)"
PYTHONPATH="$repo/bindings/python${PYTHONPATH:+:$PYTHONPATH}" exec python3 "$repo/bench/python/bench_decode.py" --lib "$lib" "$@"
