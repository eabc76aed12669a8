#!/usr/bin/env bash
# Staged by tests/package/stage_gpu_consumer.sh as .gpu/package-consumer/run.sh;
# on the GPU machine, from the project root: bash .gpu/package-consumer/run.sh
#
# Runs the fresh console app (the README sample, unchanged) with the package's
# own libpaddedattn.so, never a freshly built one (PADDEDATTN_NATIVE_LIB unset,
# the app unpacked to a folder nothing else writes to), and checks:
#   - the library that loaded is the app's copy, with the bytes of the .nupkg's;
#   - its dynamic dependencies resolve (the CUDA runtime is linked statically,
#     so the driver's libcuda.so.1 is all it needs);
#   - Device.Default is cuda:0 where nvidia-smi lists a GPU (else the CPU);
#   - on a GPU, the four printed outputs match a second run of the same app
#     on the CPU backend (CUDA_VISIBLE_DEVICES= hides the GPU) within bf16 rounding.
# Logs go to $OUT (else .gpu/out). Exit status 0 only when every check passed.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${OUT:-$here/../out}"; mkdir -p "$out"
unset PADDEDATTN_NATIVE_LIB
export DOTNET_ROOT="${DOTNET_ROOT:-/tmp/dotnet-rt}" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
if [ ! -x "$DOTNET_ROOT/dotnet" ]; then
    mkdir -p "$DOTNET_ROOT" && tar -xJf "$here/../dotnet-runtime.tar.xz" -C "$DOTNET_ROOT" || { echo "FAIL: no .NET runtime"; exit 1; }
fi
app="$(mktemp -d /tmp/package-consumer.XXXXXX)"
tar -xJf "$here/app.tar.xz" -C "$app"
lib="$app/libpaddedattn.so"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
echo "== package $(cat "$here/package.name"), GPU: ${gpu:-none}"
if command -v readelf >/dev/null; then
    echo "== NEEDED of the package's libpaddedattn.so: $(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
fi
if command -v ldd >/dev/null; then
    missing="$(ldd "$lib" 2>&1 | grep 'not found' || true)"
    [ -z "$missing" ] || fail "unresolved dependencies: $missing"
fi
[ "$(sha256sum < "$lib" | cut -d' ' -f1)" = "$(cat "$here/package.sha256")" ] \
    || fail "$lib differs from the .nupkg's runtimes/linux-x64/native/libpaddedattn.so"

echo "== README sample (Device.Default)"
(cd "$app" && ./App) > "$out/package-consumer.log" 2>&1
rc=$?
cat "$out/package-consumer.log"
[ "$rc" = 0 ] || fail "the app exited with $rc"
loaded="$(sed -n 's/^native library: //p' "$out/package-consumer.log")"
[ "$loaded" = "$lib" ] || fail "loaded '$loaded', not the package's $lib"
device="$(sed -n 's/^Device.Default: \([^ ]*\).*/\1/p' "$out/package-consumer.log")"
if [ -n "$gpu" ]; then
    [ "$device" = "cuda:0" ] || fail "Device.Default is '$device' on a machine with a GPU"
    echo "== the same app on the CPU backend (CUDA_VISIBLE_DEVICES=), for comparison"
    (cd "$app" && CUDA_VISIBLE_DEVICES= ./App) > "$out/package-consumer-cpu.log" 2>&1 || fail "the CPU run exited with $?"
    grep '^sequence' "$out/package-consumer-cpu.log"
    # Inputs are the same (seed 42); bf16 outputs printed with 4 decimals: a bf16
    # step of the output plus rounding of the print, nothing like a wrong row.
    python3 - "$out/package-consumer.log" "$out/package-consumer-cpu.log" <<'PY' || failures=$((failures + 1))
import math, re, sys
def values(path):
    return [float(m.group(1)) for m in re.finditer(r"^sequence \d+ .*= (\S+)$", open(path).read(), re.M)]
gpu, cpu = values(sys.argv[1]), values(sys.argv[2])
ok = len(gpu) == 4 and len(cpu) == 4 and all(math.isfinite(g) and abs(g - c) <= 0.002 + 0.01 * abs(c) for g, c in zip(gpu, cpu))
print(("PASS" if ok else "FAIL") + f": GPU outputs {gpu} vs CPU {cpu}")
sys.exit(0 if ok else 1)
PY
else
    [ "$device" = "cpu" ] || fail "Device.Default is '$device' without a GPU"
fi
[ "$(grep -c '^sequence' "$out/package-consumer.log")" = 4 ] || fail "the sample did not print its four outputs"
rm -rf "$app"
if [ "$failures" = 0 ]; then echo "PASS: the package's app ran the README sample on ${device:-?} with the package's native library"; else echo "$failures check(s) failed"; fi
[ "$failures" = 0 ]
