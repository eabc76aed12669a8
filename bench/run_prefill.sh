#!/usr/bin/env bash
# Builds native/ for the local GPU and runs the prefill benchmark against the
# PyTorch peers. Usage: bench/run_prefill.sh [build dir] [bench_prefill.py args...]
# Env: CUDA_ARCH (default 90a), OUT (the JSON is also written there).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
build="${1:-/tmp/paddedattn-bench-build}"
shift || true
arch="${CUDA_ARCH:-90a}"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$repo/native" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CUDA_ARCHITECTURES="$arch" -DBUILD_TESTING=OFF >"$build.configure.log" 2>&1 \
  || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target paddedattn
lib="$(find "$build" -maxdepth 2 -name 'libpaddedattn.so' | head -1)"
echo "library: $lib"
PADDEDATTN_NATIVE_LIB="$lib" PYTHONPATH="$repo/bindings/python${PYTHONPATH:+:$PYTHONPATH}" \
    python3 "$here/python/bench_prefill.py" "$@"
