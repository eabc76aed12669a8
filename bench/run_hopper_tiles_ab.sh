#!/usr/bin/env bash
# A/B of the Hopper prefill kernel's tile shapes on one GPU, in one call:
# build (sm_90a, ptxas report of the kernels in question), every ctest program
# (the prefill ones under every tile switch), memcheck and racecheck of the
# default and the new shapes, then the
# benchmark cases they are for against the mma.sync kernel, FA2 varlen and
# cuDNN dense, and the packed-layout suite. Prints a summary; JSON in $OUT.
#   [BASE_LIB=other/libpaddedattn.so] bench/run_hopper_tiles_ab.sh [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${1:-/tmp/b-hopper-tiles}"
out="${OUT:-/tmp/hopper-tiles-out}"
mkdir -p "$out"
t0=$(date +%s)
el() { echo $(( $(date +%s) - t0 )); }
cmake -S "$root/native" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a \
    -DPADDEDATTN_PTXAS_VERBOSE=ON > "$out/configure.log" 2>&1 || { tail -20 "$out/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" > "$out/build.log" 2>&1 || { grep -E "error" "$out/build.log" | head -30; exit 1; }
echo "== built ($(el) s); Hopper kernels with other tile shapes (registers, non-zero spills):"
python3 - "$out/build.log" <<'PY'
import re, sys
fn = None
for line in open(sys.argv[1]).read().splitlines():
    m = re.search(r"Compiling entry function '(\S+)'", line)
    if m:
        fn = m.group(1)
        continue
    # prefill_hopper_kernel<..., MAINLOOP, SHORT_N, TALL_N, PERSISTENT>: not the 128-row default
    if fn and "prefill_hopper_kernel" in fn and "ELi0ELi0ELb0EEEv" not in fn:
        if "Used" in line or ("spill" in line and " 0 bytes spill stores, 0 bytes spill loads" not in line):
            print("  ", fn[-48:], line.strip()[14:96])
PY
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
memcheck_group short test_prefill_gpu:hopper_short test_prefill_gpu:hopper_short_wide \
    test_prefill_variants_gpu:hopper_short &
memcheck_group other test_prefill_gpu:hopper_wide test_prefill_gpu:hopper_persistent \
    test_prefill_variants_gpu:hopper_persistent &
SANITIZER_TOOL=racecheck memcheck_group racecheck test_prefill_gpu test_prefill_gpu:hopper_short_wide &
echo "== ctest, every program ($(el) s)"
(cd "$build" && ctest -j4 --timeout 400 2>&1 | grep -E "tests passed|Failed|\*\*\*|Not Run|Timeout" | tail -20)
wait
echo "== sanitizers ($(el) s)"
for group in defaults short other racecheck; do cat "$mc/$group.txt"; done
echo "== bench ($(el) s)"
cd "$root/bench/python"
python3 bench_prefill.py --cases 3,7,9,12,0,10,8,4,15 --peers mma,hshort,hshortw,hpersist,htall,hwide,fa2,cudnn-dense \
    --runs 10 --json "$out/ab.json" > "$out/ab.log" 2>&1
echo "rc=$?"
python3 - "$out/ab.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
names = ["ours", "ours-mma", "ours-hshort", "ours-hshortw", "ours-hpersist", "ours-htall", "ours-hwide", "fa2",
         "cudnn-dense"]
print("%-48s " % "case (TFLOP/s)" + " ".join("%11s" % n.replace("ours-", "") for n in names))
for r in d["results"]:
    p = r["peers"]
    bad = [k for k, v in r.get("checks", {}).items() if v is False]
    print("%-48s " % r["case"][:48] + " ".join("%11s" % ("%.1f" % p[n]["tflops"] if "tflops" in p.get(n, {}) else "-")
                                               for n in names) + ("  FAIL " + ",".join(bad) if bad else ""))
PY
if [ -n "${BASE_LIB:-}" ]; then
    # The same cases on another build (e.g. main's), for changes that no switch selects.
    echo "== the same cases with BASE_LIB=$BASE_LIB ($(el) s)"
    PADDEDATTN_NATIVE_LIB="$BASE_LIB" python3 bench_prefill.py --cases 3,7,9,12,0,10,8,4,15 --peers mma,hshort,fa2 \
        --runs 10 --json "$out/base.json" > "$out/base.log" 2>&1
    python3 - "$out/base.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    p = r["peers"]
    print("%-48s " % r["case"][:48] + " ".join("%s %s" % (n, "%.1f" % p[n]["tflops"] if "tflops" in p.get(n, {}) else "-")
                                               for n in ("ours", "ours-mma", "ours-hshort", "fa2")))
PY
fi
python3 bench_prefill.py --variants --runs 10 --json "$out/variants.json" > "$out/variants.log" 2>&1
echo "variants rc=$?"
python3 - "$out/variants.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["packed"]:
    ms = lambda k: "%.3f" % r[k] if isinstance(r.get(k), float) else "-"
    print("%-30s padded %s packed %s | mma %s tall %s short %s short-alt %s | fa2 %s" % (
        r["case"], ms("padded_ms"), ms("packed_ms"), ms("packed_mma_ms"), ms("packed_hopper_tall_ms"),
        ms("packed_hopper_short_ms"), ms("packed_hopper_short_wide_ms"), ms("fa2_ms")))
PY
echo "== end ($(el) s)"
