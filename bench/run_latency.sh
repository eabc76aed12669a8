#!/usr/bin/env bash
# One pass over what the latency work needs on a GPU machine, within a fixed
# time: build native/ (Release, Ninja, CUDA_ARCH default 90a, ptxas report),
# the GPU tests, the prefill benchmark on case 3 (without peers), the decode
# benchmark (quick, forced-split sweep), the other prefill cases (without
# peers) and case 3 with peers in whatever time is left. Logs and
# JSON go to $OUT (default /tmp/paddedattn-latency); the key table lines are
# printed last. Usage: bench/run_latency.sh [build dir] [seconds, default 315]
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="${1:-/tmp/b}"
budget="${2:-315}"
out="${OUT:-/tmp/paddedattn-latency}"
mkdir -p "$out"
left() { local t=$((budget - SECONDS - ${1:-0})); (( t < 1 )) && t=1; echo $t; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > "$out/gpu.txt" 2>&1
cmake -S "$repo/native" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90a}" -DPADDEDATTN_PTXAS_VERBOSE=ON > "$out/configure.log" 2>&1
cmake --build "$build" -j"$(nproc)" > "$out/build.log" 2>&1
echo "build rc=$? at ${SECONDS}s"
grep -c "0 bytes spill stores" "$out/build.log" | sed 's/^/kernels without spills: /'
grep "spill" "$out/build.log" | grep -v " 0 bytes spill stores, 0 bytes spill loads" | sed 's/^/SPILL: /'
timeout 100 ctest --test-dir "$build" -R "gpu|cuda" --output-on-failure > "$out/ctest.log" 2>&1
echo "ctest rc=$? at ${SECONDS}s"; tail -4 "$out/ctest.log"
lib="$build/libpaddedattn.so"
export PADDEDATTN_NATIVE_LIB="$lib"
export PYTHONPATH="$(dirname "$here")/bindings/python${PYTHONPATH:+:$PYTHONPATH}"  # the paddedattn package
timeout 45 python3 "$here/python/bench_prefill.py" --lib "$lib" --cases 3 --runs 30 --no-peers \
    --json "$out/prefill_case3.json" > "$out/prefill_case3.log" 2>&1
echo "prefill case 3 rc=$? at ${SECONDS}s"
t=$(left 70); (( t > 120 )) && t=120
timeout $t python3 "$here/python/bench_decode.py" --lib "$lib" --quick --sweep \
    --flex-budget-s 30 --json "$out/bench_decode.json" > "$out/decode.log" 2>&1
echo "decode rc=$? at ${SECONDS}s"
timeout $(left 35) python3 "$here/python/bench_prefill.py" --lib "$lib" --cases 0,2,5,1,4,6,7 --runs 20 \
    --no-peers --json "$out/prefill_rest.json" > "$out/prefill_rest.log" 2>&1
echo "prefill rest rc=$? at ${SECONDS}s"
timeout $(left 5) python3 "$here/python/bench_prefill.py" --lib "$lib" --cases 3 --runs 30 \
    --json "$out/prefill_case3_peers.json" > "$out/prefill_case3_peers.log" 2>&1
echo "prefill case 3 with peers rc=$? at ${SECONDS}s"
echo "== decode"; grep "^case batch" "$out/decode.log" | cut -c1-330; sed -n '/^device:/,/^{/p' "$out/decode.log" | head -45
echo "== prefill"; grep -h "^|" "$out"/prefill_*.log | cut -c1-400
grep -h "CHECKS FAILED\|Traceback\|Error" "$out"/prefill_*.log "$out/decode.log" | head -5
