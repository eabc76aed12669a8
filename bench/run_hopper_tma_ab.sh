#!/usr/bin/env bash
# A/B of the Hopper prefill kernel's K/V loads (tensor maps against cp.async)
# and its short-row tile shapes on one GPU, in one call: build (sm_90a,
# ptxas report), every ctest program (the prefill ones under every tile
# switch), memcheck and racecheck of the default dispatch, the 128-row tiles
# (TMA loads) and the short-row tiles, then the long-row cases with and
# without the tensor maps and the short-row cases per tile shape, against
# FA2 varlen and cuDNN dense. Prints a summary; JSON in $OUT.
#   bench/run_hopper_tma_ab.sh [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${1:-/tmp/b-hopper-tma}"
out="${OUT:-/tmp/hopper-tma-out}"
mkdir -p "$out"
t0=$(date +%s)
el() { echo $(( $(date +%s) - t0 )); }
cmake -S "$root/native" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a \
    -DPADDEDATTN_PTXAS_VERBOSE=ON > "$out/configure.log" 2>&1 || { tail -20 "$out/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" > "$out/build.log" 2>&1 || { grep -E "error" "$out/build.log" | head -30; exit 1; }
echo "== built ($(el) s); Hopper kernels: registers of the 128-row tiles' kernels, non-zero spills of any:"
# (the 128-row tiles' kernels: SHORT_N = TALL_N = 0, not persistent)
python3 "$root/bench/python/ptxas_report.py" "$out/build.log" --regs-of ELi0ELi0ELb0EEEv
export PADDEDATTN_NATIVE_LIB="$build/libpaddedattn.so" PYTHONPATH="$root/bindings/python"
# The sanitizers run in four groups at once beside ctest (they are
# latency-bound; together they took ~150 s on an H100 where one after the
# other takes several minutes), then the benchmark has the GPU to itself.
mc="$out/memcheck"
mkdir -p "$mc"
memcheck_group() {
    local name=$1
    shift
    OUT="$mc/$name" bash "$root/native/tests/run_memcheck.sh" "$build" "$@" > "$mc/$name.txt" 2>&1
}
memcheck_group defaults test_prefill_gpu test_prefill_gpu_tiles test_prefill_variants_gpu &
memcheck_group tall test_prefill_gpu:hopper test_prefill_variants_gpu:hopper &
memcheck_group short test_prefill_gpu:hopper_short_wide test_prefill_variants_gpu:hopper_short &
SANITIZER_TOOL=racecheck memcheck_group racecheck test_prefill_gpu:hopper test_prefill_gpu:hopper_short_wide &
echo "== ctest, every program ($(el) s)"
(cd "$build" && ctest -j4 --timeout 200 2>&1 | grep -E "tests passed|Failed|\*\*\*|Not Run|Timeout" | tail -20)
wait
echo "== sanitizers ($(el) s)"
for group in defaults tall short racecheck; do cat "$mc/$group.txt"; done
echo "== bench ($(el) s)"
cd "$root/bench/python"
summary() { python3 "$root/bench/python/prefill_summary.py" "$1" "$2"; }
long_peers=htall,hnotma,fa2,cudnn-dense
python3 bench_prefill.py --cases 13,14,4,11,6,1,2 --peers $long_peers --runs 10 --json "$out/tma.json" > "$out/tma.log" 2>&1
echo "rc=$? ($(el) s)"; summary "$out/tma.json" $long_peers
short_peers=mma,hshort,hshortw,fa2,cudnn-dense
python3 bench_prefill.py --cases 0,10,8,9,3,12,7 --peers $short_peers --runs 10 --json "$out/short.json" > "$out/short.log" 2>&1
echo "rc=$? ($(el) s)"; summary "$out/short.json" $short_peers
# the long rows once more, for the spread, when there is time
[ "$(el)" -lt "${REPEAT_BEFORE_S:-380}" ] && python3 bench_prefill.py --cases 13,14 --peers htall,hnotma,cudnn-dense --runs 10 --json "$out/tma2.json" > "$out/tma2.log" 2>&1
[ -f "$out/tma2.json" ] && summary "$out/tma2.json" htall,hnotma,cudnn-dense
echo "== total $(el) s"
