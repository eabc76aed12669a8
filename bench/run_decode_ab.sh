#!/usr/bin/env bash
# Everything for decode kernel work in one go on a GPU machine: build native/ (sm_90 by default:
# the decode kernels use no sm_90a feature, and the Hopper prefill kernels
# then compile to stubs, which keeps the build short; CUDA_ARCH=90a for the
# release image), the decode GPU tests on the default dispatch and on each
# kernel family (PADDEDATTN_DECODE_MMA=0 / =1), memcheck on the padded and
# paged tests, ncu of named cases (default and CUDA-core kernels), the
# serving-shape suite against FA2 varlen and an A/B subset with the CUDA-core
# kernels. Logs and JSON go to $OUT (default /tmp/decode-out).
#   bench/run_decode_ab.sh [build-dir]
# Environment: NCU_CASES (default "b32_16k b1_64k"; empty: no ncu),
#   AB_CASES (bench_decode.py --varlen-only list for the CUDA-core A/B),
#   SUITE_ONLY (restrict the default suite), SKIP_MEMCHECK=1.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-/tmp/b-decode}"
out="${OUT:-/tmp/decode-out}"
mkdir -p "$out"
t0=$(date +%s)
cmake -S "$repo/native" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPADDEDATTN_PTXAS_VERBOSE=ON \
      -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" > "$out/configure.log" 2>&1 \
  || { tail -20 "$out/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target paddedattn test_decode_cuda test_decode_paged_cuda \
      test_decode_paged_graph test_overflow_cuda test_prefill_variants_gpu test_decode_heuristics \
      > "$out/build.log" 2>&1 || { grep -E "error" "$out/build.log" | head -20; exit 1; }
grep -A2 "decode_mma_kernel" "$out/build.log" | grep -E "registers|spill" | sort | uniq -c | head -12
echo "build: $(( $(date +%s) - t0 )) s"

# Tests, in parallel (their float64 references are CPU-bound).
declare -A tests=(
  [decode]="$build/test_decode_cuda"
  [decode_paged]="$build/test_decode_paged_cuda"
  [decode_graph]="$build/test_decode_paged_graph"
  [overflow]="$build/test_overflow_cuda"
  [variants]="$build/test_prefill_variants_gpu"
  [decode_cuda_core]="env PADDEDATTN_DECODE_MMA=0 $build/test_decode_cuda"
  [decode_mma_all]="env PADDEDATTN_DECODE_MMA=1 $build/test_decode_cuda"
  [paged_cuda_core]="env PADDEDATTN_DECODE_MMA=0 $build/test_decode_paged_cuda"
  [paged_mma_all]="env PADDEDATTN_DECODE_MMA=1 $build/test_decode_paged_cuda"
)
if [[ "${SKIP_MEMCHECK:-0}" != 1 ]]; then
  tests[memcheck_decode]="compute-sanitizer --tool memcheck --error-exitcode 3 $build/test_decode_cuda"
  tests[memcheck_paged]="compute-sanitizer --tool memcheck --error-exitcode 3 $build/test_decode_paged_cuda"
fi
for name in "${!tests[@]}"; do
  ( timeout "${TEST_TIMEOUT:-90}" ${tests[$name]} > "$out/test_$name.log" 2>&1; echo $? > "$out/test_$name.rc" ) &
done
wait
status=0
for name in $(echo "${!tests[@]}" | tr ' ' '\n' | sort); do
  rc=$(cat "$out/test_$name.rc")
  [[ "$rc" == 0 ]] || status=1
  echo "test $name: rc=$rc $(grep -E "passed|failed|FAIL|ERROR SUMMARY" "$out/test_$name.log" | tail -1 | cut -c1-150)"
  [[ "$rc" == 0 ]] || grep -E "FAIL|rel err|error" "$out/test_$name.log" | head -6 | cut -c1-300
done
"$build/test_decode_heuristics" | tail -1
echo "tests: $(( $(date +%s) - t0 )) s"

lib="$build/libpaddedattn.so"
export PYTHONPATH="$repo/bindings/python:$repo/bench/python" PYTHONUNBUFFERED=1
ncu_cases="${NCU_CASES-b32_16k b1_64k}"
if [[ -n "$ncu_cases" ]]; then
  timeout 60 ncu --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats \
      --section SchedulerStats -k regex:"decode_(mma|split)_kernel" \
      python3 "$repo/bench/python/profile_decode_cases.py" --lib "$lib" $ncu_cases > "$out/ncu.txt" 2>&1
  grep -E "^  decode_|^case |Duration|DRAM Throughput|Memory Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per|Grid Size|Warp Cycles Per Issued|Issued Warp Per|Block Limit (Registers|Shared)" \
      "$out/ncu.txt" | sed 's/  */ /g' | cut -c1-120
  grep -o "spends [0-9.]* cycles being stalled [a-z ]*[A-Za-z0-9 ]*" "$out/ncu.txt" | cut -c1-110 | head -8
  echo "ncu: $(( $(date +%s) - t0 )) s"
fi

only=()
[[ -n "${SUITE_ONLY:-}" ]] && only=(--varlen-only "$SUITE_ONLY")
OUT="$out" timeout 240 python3 "$repo/bench/python/bench_decode.py" --lib "$lib" --varlen-suite "${only[@]}" \
  > "$out/bench_varlen.log" 2>&1 || status=1
echo "== suite (default)"
grep -E "^\| |^device|Error|error" "$out/bench_varlen.log" | head -40
echo "suite: $(( $(date +%s) - t0 )) s"
ab="${AB_CASES-b8_4k_q4_d64,b64_8k_q2_28_4,b16_8k,b1_32k,b1_1k}"
if [[ -n "$ab" ]]; then
  PADDEDATTN_DECODE_MMA=0 timeout 120 python3 "$repo/bench/python/bench_decode.py" --lib "$lib" --varlen-suite \
    --quick --varlen-only "$ab" --json "$out/bench_varlen_cuda_core.json" > "$out/bench_ab.log" 2>&1 || status=1
fi
if [[ -n "${SWEEP_1K:-1}" ]]; then
  timeout 60 python3 "$repo/bench/python/bench_decode.py" --lib "$lib" --batches 1 --caches 1024 --sweep --no-flex \
    --variant-cases 1x1024 --quick --json "$out/bench_b1_1k_sweep.json" --no-json-stdout > "$out/bench_1k.log" 2>&1
  python3 - "$out/bench_b1_1k_sweep.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["cases"][0]
print("b1x1k left-padded: ours %.1f us; splits (auto merge) %s; splits (combine) %s" % (
    r["paddedattn"]["us"], {k: round(v, 1) for k, v in r.get("split_sweep_us", {}).items()},
    {k: round(v, 1) for k, v in r.get("split_sweep_two_kernels_us", {}).items()}))
grid = sorted(r.get("variant_grid_us", {}).items(), key=lambda kv: kv[1])
print("b1x1k variants (stages/merge/splits), fastest first:", ", ".join("%s %.1f" % kv for kv in grid[:12]))
PY
fi
echo "== CUDA-core A/B (PADDEDATTN_DECODE_MMA=0, --quick)"
grep -E "^\| " "$out/bench_ab.log" | cut -d'|' -f2-6
echo "total: $(( $(date +%s) - t0 )) s"
exit $status
