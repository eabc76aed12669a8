#!/usr/bin/env bash
# On an H200: builds native/ for sm_90a (ptxas report of the Hopper prefill
# kernels: registers, spills, wgmma serialisation warnings), runs the GPU
# prefill tests on the chosen Hopper mainloops, the mainloop A/B
# (bench/python/bench_hopper_mainloops.py) and an ncu reading of the 16k
# causal row per mainloop. Every step has a time limit, so a hanging kernel
# costs one step only. Usage (from the repository root):
#   bench/run_hopper_mainloops.sh [build dir] ; env TESTS="1 2 3" NCU="0 3" CASES=13,14,2,11
set -u
B=${1:-/tmp/b-hopper}
OUTDIR=${OUT:-/tmp}
TESTS=${TESTS:-"1 2 3"}
VARIANT_TESTS=${VARIANT_TESTS:-"3"}
NCU=${NCU:-"0 3"}
CASES=${CASES:-13,14,2,11}
MAINLOOPS=${MAINLOOPS:-0,1,2,3}
SANITIZE=${SANITIZE:-}
t0=$(date +%s)
# Steps after the build run only while the elapsed time stays under LIMIT (seconds).
LIMIT=${LIMIT:-100000}
left() { echo $(( LIMIT - ($(date +%s) - t0) )); }
cmake -S native -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a \
  -DPADDEDATTN_PTXAS_VERBOSE=ON -DCMAKE_CUDA_FLAGS="--split-compile=4" > "$OUTDIR/cfg.log" 2>&1 || { tail -20 "$OUTDIR/cfg.log"; exit 1; }
cmake --build "$B" -j16 --target paddedattn test_prefill_gpu test_prefill_variants_gpu test_prefill_gpu_tiles \
  > "$OUTDIR/build.log" 2>&1
rc=$?
echo "== build rc=$rc in $(( $(date +%s) - t0 )) s"
grep -E "error" "$OUTDIR/build.log" | head -20
grep -iE "wgmma|C7508|setmaxnreg" "$OUTDIR/build.log" | sort | uniq -c | head -10
# registers / spills of the Hopper kernels (ptxas -v)
python3 bench/python/ptxas_report.py "$OUTDIR/build.log"
# the same from the objects: registers, stack (spills land there), per Hopper kernel
for o in "$B"/CMakeFiles/paddedattn.dir/cuda/prefill_hopper_bf16_hdim*.cu.o; do
  cuobjdump -res-usage "$o" 2>/dev/null | grep -A1 "prefill_hopper_kernel" | grep -oE "kernelILi[0-9]+E[^L]*Lb[01]ELb[01]ELi[0-9]|REG:[0-9]+|STACK:[0-9]+|LOCAL:[0-9]+" | paste -sd' ' | sed 's/ kernelILi/\nkernelILi/g' > "$OUTDIR/res_$(basename "$o").txt"
  # causal, no variants (registers per mainloop), and every kernel with a stack frame
  grep -E "Lb1ELb0ELi" "$OUTDIR/res_$(basename "$o").txt" | paste -sd' '
  grep -v "STACK:0 LOCAL:0" "$OUTDIR/res_$(basename "$o").txt"
done
[ $rc -eq 0 ] || exit 1
export PADDEDATTN_NATIVE_LIB=$(find "$B" -name libpaddedattn.so | head -1) PYTHONPATH=$PWD/bindings/python
# A mainloop whose test hangs (a deadlock) or fails is dropped from the timings.
for ml in $TESTS; do
  s=$(date +%s)
  PADDEDATTN_PREFILL_HOPPER=1 PADDEDATTN_PREFILL_HOPPER_MAINLOOP=$ml timeout 45 "$B/test_prefill_gpu" > "$OUTDIR/test_gpu_$ml.log" 2>&1
  trc=$?
  echo "== test_prefill_gpu hopper mainloop $ml: rc=$trc ($(( $(date +%s) - s )) s) $(tail -1 "$OUTDIR/test_gpu_$ml.log")"
  if [ $trc -ne 0 ]; then
    grep -m5 -iE "fail|error|mismatch" "$OUTDIR/test_gpu_$ml.log"
    MAINLOOPS=$(echo "$MAINLOOPS" | tr ',' '\n' | grep -vx "$ml" | paste -sd,)
    NCU=$(echo "$NCU" | tr ' ' '\n' | grep -vx "$ml" | paste -sd' ')
    VARIANT_TESTS=$(echo "$VARIANT_TESTS" | tr ' ' '\n' | grep -vx "$ml" | paste -sd' ')
  fi
done
echo "== timing mainloops: $MAINLOOPS; ncu: $NCU"
for ml in $VARIANT_TESTS; do
  [ "$(left)" -gt 60 ] || { echo "== skipped variant tests ($ml): time"; break; }
  for t in test_prefill_variants_gpu test_prefill_gpu_tiles; do
    s=$(date +%s)
    PADDEDATTN_PREFILL_HOPPER=1 PADDEDATTN_PREFILL_HOPPER_MAINLOOP=$ml timeout 60 "$B/$t" > "$OUTDIR/${t}_$ml.log" 2>&1
    echo "== $t hopper mainloop $ml: rc=$? ($(( $(date +%s) - s )) s) $(tail -1 "$OUTDIR/${t}_$ml.log")"
  done
done
if [ "$(left)" -gt 40 ]; then
  s=$(date +%s)
  (cd bench/python && timeout $(( $(left) < 90 ? $(left) - 5 : 90 )) python3 bench_hopper_mainloops.py --cases "$CASES" \
    --mainloops "$MAINLOOPS" --runs 10) 2>&1 | tail -12
  echo "== mainloop A/B: $(( $(date +%s) - s )) s"
fi
# One compute-sanitizer tool over test_prefill_variants_gpu on the sm_90a
# kernels: the first of SANITIZE runs before the ncu runs, the others after.
sanitize() {
  local tool="$1" s
  [ "$(left)" -gt 40 ] || { echo "== skipped sanitizer $tool: time"; return 0; }
  s=$(date +%s)
  PADDEDATTN_PREFILL_HOPPER=1 PADDEDATTN_PREFILL_HOPPER_MAINLOOP=${SANITIZE_ML:-} timeout $(( $(left) - 10 )) compute-sanitizer --tool "$tool" "$B/test_prefill_variants_gpu" \
    > "$OUTDIR/sanitize_$tool.log" 2>&1
  echo "== compute-sanitizer $tool test_prefill_variants_gpu (mainloop ${SANITIZE_ML:-default}): rc=$? ($(( $(date +%s) - s )) s)"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|hazard" "$OUTDIR/sanitize_$tool.log" | tail -3
}
for tool in $(echo $SANITIZE | cut -d" " -f1); do sanitize "$tool"; done
for ml in $NCU; do
  [ "$(left)" -gt 30 ] || { echo "== skipped ncu $ml: time"; continue; }
  s=$(date +%s)
  PADDEDATTN_PREFILL_HOPPER_MAINLOOP=$ml timeout 60 ncu --clock-control none -k regex:prefill_hopper -c 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats \
    --print-details all \
    python3 bench/python/bench_prefill.py --cases 13 --only-ours > "$OUTDIR/ncu_$ml.log" 2>&1
  echo "== ncu 16k causal, mainloop $ml: rc=$? ($(( $(date +%s) - s )) s)"
  grep -E "Duration|Compute \(SM\) Throughput|Tensor \(All\)|Issue Slots Busy|Warp Cycles Per Issued|Stall (Barrier|Wait|Long|Math|MIO|Not Selected|GMMA|Short|Sleeping|Branch|Dispatch|LG)" \
    "$OUTDIR/ncu_$ml.log" | sed 's/  */ /g' | head -24
done
for tool in $(echo $SANITIZE | cut -s -d" " -f2-); do sanitize "$tool"; done
echo "== total $(( $(date +%s) - t0 )) s"
