# Sourced (not run) by bench/run_prefill.sh and bench/run_prefill_paged.sh:
# the Release build of native/ for the local GPU that both benchmarks start with.
# Env: CUDA_ARCH (default 90a). Needs $repo (the repository root).

# configure_native BUILD TESTING [cmake args...]: configures native/ into BUILD
# (Ninja when present); the log goes to BUILD.configure.log, printed on failure.
configure_native() {
  local build="$1" testing="$2"
  shift 2
  local generator=()
  if command -v ninja >/dev/null; then generator=(-G Ninja); fi
  cmake -S "$repo/native" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90a}" -DBUILD_TESTING="$testing" "$@" >"$build.configure.log" 2>&1 \
    || { cat "$build.configure.log"; exit 1; }
}

# build_native BUILD TARGET...: builds the targets and sets lib to the library's path.
build_native() {
  local build="$1"
  shift
  cmake --build "$build" -j"$(nproc)" --target "$@"
  lib="$(find "$build" -maxdepth 2 -name 'libpaddedattn.so' | head -1)"
  echo "library: $lib"
}
