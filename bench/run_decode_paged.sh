#!/usr/bin/env bash
# One GPU session for decode: build native/ (Release, sm_90a), the decode
# tests (the paged GPU test under compute-sanitizer memcheck, the padded one
# plain, the split heuristic), then the serving-shape benchmark against
# FlashAttention-2 varlen with the paged variants (bench_decode.py
# --varlen-suite). Logs and JSON go to $OUT (default /tmp/decode-out).
#   bench/run_decode_paged.sh [build-dir] [-- extra bench_decode.py arguments]
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-/tmp/b}"
shift || true
[[ "${1:-}" == "--" ]] && shift
out="${OUT:-/tmp/decode-out}"
mkdir -p "$out"
t0=$(date +%s)
cmake -S "$repo/native" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90a}" > "$out/configure.log" 2>&1 \
  || { tail -20 "$out/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target paddedattn test_decode_paged_cuda test_decode_cuda test_decode_paged_graph \
      test_decode_heuristics > "$out/build.log" 2>&1 || { grep -E "error" "$out/build.log" | head -20; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
status=0
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 3 "$build/test_decode_paged_cuda" \
  > "$out/test_decode_paged_cuda.memcheck.log" 2>&1 || status=1
tail -3 "$out/test_decode_paged_cuda.memcheck.log"
timeout 120 "$build/test_decode_cuda" > "$out/test_decode_cuda.log" 2>&1 || status=1
tail -2 "$out/test_decode_cuda.log"
timeout 60 "$build/test_decode_paged_graph" 2>&1 | tail -2
"$build/test_decode_heuristics" | tail -1
echo "tests: $(( $(date +%s) - t0 )) s"
lib="$build/libpaddedattn.so"
PYTHONUNBUFFERED=1 OUT="$out" timeout 240 python3 "$repo/bench/python/bench_decode.py" --lib "$lib" \
  --varlen-suite "$@" > "$out/bench_varlen.log" 2>&1 || status=1
grep -E "^\| |^device|Error|error" "$out/bench_varlen.log" | head -40
echo "total: $(( $(date +%s) - t0 )) s"
exit $status
