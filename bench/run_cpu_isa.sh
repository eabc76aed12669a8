#!/usr/bin/env bash
# The CPU backend on every kernel path this machine has (native/cpu/isa.cpp):
# a CPU-only Release build, the CPU ctest suites under each forced
# PADDEDATTN_CPU_ISA, then bench/cpu/bench_cpu.c per path and a table of
# median ms (bf16 against f32, avx512_bf16 against avx512). Needs cmake, a C
# and C++ compiler; no .NET, no GPU, no network. docs/performance.md (CPU
# section) has the numbers it gave.
#   bench/run_cpu_isa.sh [build dir, default /tmp/pattn-cpu] [runs, default 11] [threads, default 0 = all]
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-/tmp/pattn-cpu}" runs="${2:-11}" threads="${3:-0}"
jobs="$(nproc 2>/dev/null || echo 2)"
date -u; git -C "$repo" rev-parse --short HEAD 2>/dev/null || true
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket)'
flags=" $(grep -m 1 '^flags' /proc/cpuinfo | cut -d: -f2) "
paths="scalar"
[[ "$flags" == *" avx2 "* && "$flags" == *" fma "* && "$flags" == *" f16c "* ]] && paths+=" avx2"
if [[ "$paths" == *avx2 && "$flags" == *" avx512f "* && "$flags" == *" avx512bw "* &&
      "$flags" == *" avx512vl "* && "$flags" == *" avx512dq "* ]]; then
    paths+=" avx512"
    [[ "$flags" == *" avx512_bf16 "* ]] && paths+=" avx512_bf16"
fi
echo "paths: $paths$([[ "$flags" == *" avx512_fp16 "* ]] && echo ' (avx512_fp16 present, unused by design)')"

generator=()
[ -e "$build/CMakeCache.txt" ] || ! command -v ninja > /dev/null || generator=(-G Ninja)
cmake -S "$repo/native" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DPADDEDATTN_CUDA=OFF \
    > "$build.configure.log" 2>&1 &&
    cmake --build "$build" -j "$jobs" > "$build.build.log" 2>&1 || { tail -n 30 "$build".*.log; exit 1; }
cc -O2 -std=c11 -I"$repo/native/include" "$repo/bench/cpu/bench_cpu.c" -L"$build" -lpaddedattn -lm \
   -Wl,-rpath,"$build" -o "$build/bench_cpu" || exit 1

status=0
for isa in $paths; do
    echo "== ctest CPU suites, PADDEDATTN_CPU_ISA=$isa"
    (cd "$build" && PADDEDATTN_CPU_ISA=$isa ctest --output-on-failure --timeout 900 -j "$jobs" \
        -R '^test_(prefill_cpu|prefill_variants|decode|decode_paged|merge_states|api_errors|threads|cpu_.*)$') \
        > "$build/ctest-$isa.log" 2>&1 || status=1
    grep -E 'tests passed|Failed|\*\*\*' "$build/ctest-$isa.log"
done

uptime
for isa in $paths; do
    [ "$isa" = scalar ] && continue
    PADDEDATTN_CPU_ISA=$isa "$build/bench_cpu" "$runs" "" "$threads" | sed "s/^/$isa /" | tee "$build/bench-$isa.log"
done

uptime
echo; echo "median ms per path (bench_cpu.c, $runs runs, threads=$threads)"
cat "$build"/bench-*.log | awk '
    / median / { isa = $1; dt = ""; for (i = 2; i <= NF; ++i) if ($i == "f32" || $i == "f16" || $i == "bf16") { dt = $i; at = i }
                 name = $2; for (i = 3; i < at; ++i) name = name " " $i
                 for (i = at; i <= NF; ++i) if ($i == "median") ms = $(i + 1)
                 key = name "|" dt; t[key, isa] = ms; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
                 if (!(isa in isas)) { isas[isa] = 1; iorder[++m] = isa } }
    END { printf "%-34s %-5s", "case", "dtype"; for (j = 1; j <= m; ++j) printf " %12s", iorder[j]
          printf " %20s\n", "avx512 / avx512_bf16"
          for (k = 1; k <= n; ++k) { split(order[k], p, "|"); printf "%-34s %-5s", p[1], p[2]
              for (j = 1; j <= m; ++j) printf " %12s", ((order[k], iorder[j]) in t) ? t[order[k], iorder[j]] : "-"
              a = t[order[k], "avx512"]; b = t[order[k], "avx512_bf16"]
              if (a != "" && b != "") printf " %19.2fx\n", a / b; else printf " %20s\n", "-" } }'
# Logs beside the caller's output folder where one is named ($OUT).
[ -n "${OUT:-}" ] && [ -d "$OUT" ] && cp "$build"/ctest-*.log "$build"/bench-*.log "$OUT"/ 2>/dev/null
exit $status
