#!/usr/bin/env bash
# ncu reading of the short-row prefill cases where the library is closest
# to FlashAttention-2 varlen (BERT-like b512 s128 d64 f16, b256 s256 d128,
# log-normal b128 s1024 d128), on the default dispatch: what bounds them
# (DRAM throughput, occupancy and its limiter, tensor pipe, stall reasons),
# and how evenly the SMs were busy (sm__cycles_active avg / max: below 1 by
# the SMs' idle time, at the tail among others; bench/python/tile_schedule_model.py
# predicts it per case).
# Builds native/ first unless PADDEDATTN_NATIVE_LIB names a library.
#   bench/run_profile_short_rows.sh [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${1:-/tmp/b-profile-short}"
out="${OUT:-/tmp/profile-short-out}"
mkdir -p "$out"
if [ -z "${PADDEDATTN_NATIVE_LIB:-}" ]; then
    cmake -S "$root/native" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a \
        > "$out/configure.log" 2>&1 && cmake --build "$build" -j"$(nproc)" --target paddedattn > "$out/build.log" 2>&1 ||
        { tail -20 "$out/build.log"; exit 1; }
    export PADDEDATTN_NATIVE_LIB="$build/libpaddedattn.so"
fi
export PYTHONPATH="$root/bindings/python"
for c in ${CASES:-9 10 8}; do
    timeout 120 ncu --clock-control none -k regex:prefill -c 1 \
        --section SpeedOfLight --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
        --section WarpStateStats --section SchedulerStats --print-details all \
        --metrics sm__cycles_active.avg,sm__cycles_active.max,sm__cycles_active.min \
        python3 "$root/bench/python/bench_prefill.py" --cases "$c" --only-ours > "$out/ncu_case$c.log" 2>&1
    echo "== ncu case $c: rc=$?"
    grep -E "bench_prefill|Kernel Name|  [a-z_]*prefill[a-z_]*kernel|Duration|DRAM Throughput|Memory Throughput|L2 Cache Throughput|L1/TEX Cache Throughput|L2 Hit Rate|Mem Busy|Max Bandwidth|Achieved Occupancy|Theoretical Occupancy|Registers Per Thread|Block Limit (Registers|Shared Mem|Warps)|Grid Size|Waves Per SM|Issue Slots Busy|No Eligible|Tensor \(All\)|Warp Cycles Per Issued|Stall (Barrier|Wait|Long|Math|MIO|Not Selected|Short|Branch|Dispatch|LG)|sm__cycles_active" \
        "$out/ncu_case$c.log" | sed 's/  */ /g' | head -52
done
