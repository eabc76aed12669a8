#!/usr/bin/env bash
# The CPU benchmark of docs/performance.md (CPU section): machine facts, then
# the C loop (bench/cpu/bench_cpu.c: the cases and the fixed cost of a
# 1-token call) and the .NET app against ONNX Runtime
# (bench/PaddedAttention.CpuBench), each next to `uptime` (the load matters on
# a shared machine). Needs ./build.sh build first.
#   bench/run_cpu.sh [runs, default 21]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-21}"
lib_dir="$repo/build/native"
export PADDEDATTN_NATIVE_LIB="$lib_dir/libpaddedattn.so"
[ -f "$PADDEDATTN_NATIVE_LIB" ] || { echo "no $PADDEDATTN_NATIVE_LIB: run ./build.sh build" >&2; exit 1; }
date -u; git -C "$repo" rev-parse --short HEAD
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|L2|L3)'; grep -m 1 'cpu MHz' /proc/cpuinfo
grep -o -w -E 'avx2|fma|f16c|avx512f|avx512bw|avx512vl|avx512dq|avx512_bf16|avx512fp16' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
cc -O2 -std=c11 -I"$repo/native/include" "$repo/bench/cpu/bench_cpu.c" -L"$lib_dir" -lpaddedattn -lm \
   -Wl,-rpath,"$lib_dir" -o "$repo/build/bench_cpu"
uptime; "$repo/build/bench_cpu" "$runs"; uptime
dotnet build "$repo/bench/PaddedAttention.CpuBench" -c Release -v quiet -nologo > /dev/null
uptime; dotnet "$repo/bench/PaddedAttention.CpuBench/bin/Release/net10.0/PaddedAttention.CpuBench.dll" --runs "$runs"; uptime
