#!/usr/bin/env bash
# build.sh — set up, build, test, run and package PaddedAttention.
#
#   ./build.sh setup      install what is missing (CUDA toolkit, clang-14, python3...) where possible
#   ./build.sh build      native library (CMake, Release) + .NET solution (Release)
#   ./build.sh test       build, then every suite; last line: "N passed, N failed, N skipped"
#   ./build.sh demo [..]  build, then run samples/SentenceEmbeddings (arguments are passed on)
#   ./build.sh bindings   regenerate src/Managed/Interop/NativeMethods.g.cs and
#                         bindings/python/paddedattn/_native.py from the C header
#   ./build.sh pack [--cpu-only]  NuGet package (+ .snupkg) with runtimes/linux-x64/native into artifacts/
#   ./build.sh help
#
# Environment: PADDEDATTN_CUDA=AUTO|ON|OFF (default AUTO: CUDA when a toolkit is
# found), CMAKE_CUDA_ARCHITECTURES / CUDAARCHS (default: the local GPU, else 80;90),
# PADDEDATTN_BUILD_DIR (default ./build), PADDEDATTN_JOBS (default nproc),
# PADDEDATTN_TEST_WRAPPER (runs the MSTest assemblies under e.g. "compute-sanitizer --tool memcheck").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD_DIR="${PADDEDATTN_BUILD_DIR:-$ROOT/build}"
NATIVE_BUILD="$BUILD_DIR/native"
RESULTS_DIR="$BUILD_DIR/test-results"
CONFIGURATION=Release
JOBS="${PADDEDATTN_JOBS:-$(nproc 2>/dev/null || echo 2)}"
SOLUTION="$ROOT/PaddedAttention.slnx"
MANAGED_PROJECT="$ROOT/src/Managed/PaddedAttention.csproj"
BINDINGS_PROJECT="$ROOT/bindings/PaddedAttention.Bindings"
DEMO_PROJECT="$ROOT/samples/SentenceEmbeddings"
GENERATED_BINDINGS="src/Managed/Interop/NativeMethods.g.cs"
GENERATED_PYTHON="bindings/python/paddedattn/_native.py"
PYTHON_PACKAGE_DIR="$ROOT/bindings/python"
HEADER="native/include/paddedattn.h"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_UI_LANGUAGE=en

say()  { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# NVIDIA's own toolkit installs outside PATH.
if ! have nvcc && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
fi

usage() {
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# ------------------------------------------------------------------ setup --

dotnet_sdk_10_present() {
    have dotnet || return 1
    local sdks
    sdks="$(dotnet --list-sdks 2>/dev/null || true)"
    [[ "$sdks" =~ (^|$'\n')10\. ]]
}

nvcc_major() {
    nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9]*\)\..*/\1/p' | head -n 1
}

# Debian keeps nvidia-cuda-toolkit in non-free (and some of its pieces in
# contrib); Ubuntu in multiverse. Enable those components when no apt source has them.
enable_cuda_components() {
    local id="$1" codename="$2" file line components=""
    # The component lines of every apt source (one-line and deb822 formats).
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        components+="$(grep -hE '^[[:space:]]*(deb[[:space:]]|Components:)' "$file" || true)"$'\n'
    done
    if [ "$id" = debian ]; then
        while IFS= read -r line; do
            case "$line" in *security*) continue ;; esac
            case "$line" in *contrib*non-free*|*non-free*contrib*) return 0 ;; esac
        done <<< "$components"
        local uris="http://deb.debian.org/debian" suites="$codename $codename-updates"
        local signed_by="/usr/share/keyrings/debian-archive-keyring.gpg" value
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            # Same mirror and suites as the main archive stanza (the first one).
            value="$(awk '/^URIs:/{sub(/^URIs:[ \t]*/, ""); print; exit}' /etc/apt/sources.list.d/debian.sources)"
            [ -n "$value" ] && uris="$value"
            value="$(awk '/^Suites:/{sub(/^Suites:[ \t]*/, ""); print; exit}' /etc/apt/sources.list.d/debian.sources)"
            [ -n "$value" ] && suites="$value"
            value="$(awk '/^Signed-By:/{sub(/^Signed-By:[ \t]*/, ""); print; exit}' /etc/apt/sources.list.d/debian.sources)"
            [ -n "$value" ] && signed_by="$value"
        fi
        say "enabling Debian's contrib and non-free components (/etc/apt/sources.list.d/paddedattn-contrib-non-free.sources)"
        cat > /etc/apt/sources.list.d/paddedattn-contrib-non-free.sources <<EOF
Types: deb
URIs: $uris
Suites: $suites
Components: contrib non-free
Signed-By: $signed_by
EOF
    elif [ "$id" = ubuntu ]; then
        case "$components" in *multiverse*) return 0 ;; esac
        say "enabling Ubuntu's multiverse component"
        if have add-apt-repository; then
            add-apt-repository -y multiverse >/dev/null
        else
            echo "deb http://archive.ubuntu.com/ubuntu $codename multiverse" \
                > /etc/apt/sources.list.d/paddedattn-multiverse.list
        fi
    fi
}

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        say "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

cmd_setup() {
    local id="" codename="" can_install=0 status=0
    if [ -r /etc/os-release ]; then
        # shellcheck disable=SC1091
        id="$(. /etc/os-release && echo "${ID:-}")"
        codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    fi
    if [ "$(id -u)" = 0 ] && have apt-get && { [ "$id" = debian ] || [ "$id" = ubuntu ]; }; then
        can_install=1
    fi

    # Tools every build needs (package names are Debian's and Ubuntu's).
    local missing=()
    have cmake   || missing+=(cmake)
    have ninja   || missing+=(ninja-build)
    have cc      || missing+=(gcc)
    have c++     || missing+=(g++)
    have python3 || missing+=(python3)
    have unzip   || missing+=(unzip)
    # clang-14 dumps the header's AST for the bindings generator and is the
    # host compiler that CUDA 11.8's nvcc accepts on a system with g++ 12.
    have clang-14 || missing+=(clang-14 libclang-rt-14-dev)
    # clang-14's sanitizer and libFuzzer runtimes (build.sh test's sanitizer builds).
    if have clang-14 && [ ! -e "$(clang-14 -print-runtime-dir 2>/dev/null)/libclang_rt.asan-x86_64.so" ]; then
        missing+=(libclang-rt-14-dev)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$can_install" = 1 ]; then
            apt_install "${missing[@]}" || { warn "could not install: ${missing[*]}"; status=1; }
        else
            warn "missing: ${missing[*]} (not installed: needs root on Debian/Ubuntu)"
            status=1
        fi
    fi

    # The CUDA toolkit, so that the CUDA backend is compiled even without a GPU.
    if [ "${PADDEDATTN_CUDA:-AUTO}" = OFF ]; then
        say "PADDEDATTN_CUDA=OFF: CPU-only build"
    elif have nvcc; then
        :
    elif [ "$can_install" = 1 ]; then
        enable_cuda_components "$id" "$codename"
        apt_updated=0   # the new component needs a fresh index
        if apt_install nvidia-cuda-toolkit; then
            say "CUDA toolkit installed: $(nvcc --version | sed -n 's/.*\(release [0-9.]*\).*/\1/p')"
        else
            warn "could not install nvidia-cuda-toolkit: the build will be CPU-only"
        fi
    else
        say "no CUDA toolkit and no way to install one here (needs root on Debian/Ubuntu): the build will be CPU-only"
    fi
    if have nvcc && [ "$(nvcc_major)" != "" ] && [ "$(nvcc_major)" -lt 12 ] && ! have clang-14 && ! have g++-11; then
        warn "nvcc $(nvcc_major).x needs g++ <= 11 or clang-14 as host compiler; neither is present"
    fi

    if ! dotnet_sdk_10_present; then
        warn "the .NET 10 SDK is required (dotnet on PATH) and is not installed; install it, then run ./build.sh build"
        status=1
    fi

    if [ "$status" = 0 ]; then
        local cuda="CPU-only"
        have nvcc && cuda="CUDA $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
        say "setup: ready (.NET $(dotnet --version), cmake $(cmake --version | sed -n '1s/[^0-9]*//p'), $cuda)"
    fi
    return "$status"
}

# ------------------------------------------------------------------ build --

NATIVE_LIB=""

# find_native_lib DIR: the built library (the unversioned name the loaders use).
find_native_lib() {
    local dir="$1" candidate
    for candidate in "$dir/libpaddedattn.so" "$dir/libpaddedattn.dylib" "$dir/paddedattn.dll" \
                     "$dir/$CONFIGURATION/paddedattn.dll"; do
        if [ -e "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    find "$dir" -maxdepth 3 \( -name 'libpaddedattn.so' -o -name 'libpaddedattn.dylib' -o -name 'paddedattn.dll' \) \
        2>/dev/null | head -n 1
}

# ONNX Runtime's C API headers, from the Microsoft.ML.OnnxRuntime NuGet package
# that samples/SentenceEmbeddings references (restored here when needed), for
# native/ort/ (libpaddedattn_ort). Prints nothing when they cannot be had.
ORT_PROJECT="$ROOT/samples/SentenceEmbeddings/SentenceEmbeddings.csproj"
ort_include_dir() {
    [ -f "$ORT_PROJECT" ] && dotnet_sdk_10_present || return 0
    local version packages dir
    version="$(sed -n 's/.*Include="Microsoft.ML.OnnxRuntime" Version="\([^"]*\)".*/\1/p' "$ORT_PROJECT" | head -n 1)"
    packages="$(dotnet nuget locals global-packages --list 2>/dev/null | sed -n 's/^global-packages: *//p')"
    [ -n "$version" ] && [ -n "$packages" ] || return 0
    dir="${packages%/}/microsoft.ml.onnxruntime/$version/build/native/include"
    if [ ! -f "$dir/onnxruntime_c_api.h" ]; then
        dotnet restore "$ORT_PROJECT" -v:quiet >&2 || true
    fi
    [ -f "$dir/onnxruntime_c_api.h" ] && echo "$dir"
    return 0
}

# build_native DIR CUDA_MODE: configure and build native/ into DIR.
build_native() {
    local dir="$1" cuda_mode="$2"
    local args=(-S "$ROOT/native" -B "$dir" -DCMAKE_BUILD_TYPE="$CONFIGURATION" -DPADDEDATTN_CUDA="$cuda_mode")
    local ort_include
    ort_include="$(ort_include_dir)"
    if [ -n "$ort_include" ]; then
        args+=(-DPADDEDATTN_ORT_INCLUDE_DIR="$ort_include")
    else
        warn "ONNX Runtime's C API headers were not found: libpaddedattn_ort is not built"
    fi
    # A fresh build directory gets Ninja when there is one; an existing one keeps its generator.
    if [ ! -f "$dir/CMakeCache.txt" ] && have ninja; then
        args+=(-G Ninja)
    fi
    # A build directory configured before the toolkit was there (or usable)
    # remembers "no CUDA compiler"; look again.
    if [ "$cuda_mode" != OFF ] && have nvcc && [ -f "$dir/CMakeCache.txt" ] \
            && grep -qE '^CMAKE_CUDA_COMPILER:[A-Z]+=.*NOTFOUND' "$dir/CMakeCache.txt"; then
        args+=(-UCMAKE_CUDA_COMPILER)
    fi
    if [ -n "${CMAKE_CUDA_ARCHITECTURES:-}" ]; then
        args+=(-DCMAKE_CUDA_ARCHITECTURES="$CMAKE_CUDA_ARCHITECTURES")
    fi
    # nvcc older than 12 rejects g++ 12 and newer as host compiler. CMake 3.25's
    # check_language(CUDA) does not pass CMAKE_CUDA_HOST_COMPILER on to its probe
    # project, so the choice is made through the environment (CUDAHOSTCXX),
    # which the probe inherits.
    if [ -n "${CMAKE_CUDA_HOST_COMPILER:-}" ]; then
        args+=(-DCMAKE_CUDA_HOST_COMPILER="$CMAKE_CUDA_HOST_COMPILER")
        export CUDAHOSTCXX="${CUDAHOSTCXX:-$CMAKE_CUDA_HOST_COMPILER}"
    elif [ -z "${CUDAHOSTCXX:-}" ] && [ "$cuda_mode" != OFF ] && have nvcc \
            && [ -n "$(nvcc_major)" ] && [ "$(nvcc_major)" -lt 12 ]; then
        local host_compiler
        for host_compiler in g++-11 clang++-14 clang-14; do
            if have "$host_compiler"; then
                export CUDAHOSTCXX
                CUDAHOSTCXX="$(command -v "$host_compiler")"
                say "native: nvcc $(nvcc_major).x with host compiler $CUDAHOSTCXX"
                break
            fi
        done
    fi
    say "native: cmake configure ($dir, PADDEDATTN_CUDA=$cuda_mode)"
    cmake "${args[@]}" || return 1
    say "native: cmake build (-j $JOBS)"
    cmake --build "$dir" --parallel "$JOBS" || return 1
    NATIVE_LIB="$(find_native_lib "$dir")"
    [ -n "$NATIVE_LIB" ] || { warn "native build finished without libpaddedattn in $dir"; return 1; }
    export PADDEDATTN_NATIVE_LIB="$NATIVE_LIB"
    say "native library: $NATIVE_LIB"
    if [ -f "$(dirname "$NATIVE_LIB")/libpaddedattn_ort.so" ]; then
        export PADDEDATTN_ORT_LIB="$(dirname "$NATIVE_LIB")/libpaddedattn_ort.so"
        say "ONNX Runtime operator library: $PADDEDATTN_ORT_LIB"
    fi
}

# The .NET projects of the solution; when one it names does not exist (yet),
# every project that does exist is built instead.
dotnet_projects() {
    find "$ROOT/bindings" "$ROOT/src" "$ROOT/tests" "$ROOT/samples" "$ROOT/bench" \
        -name '*.csproj' -not -path '*/obj/*' -not -path '*/bin/*' 2>/dev/null | sort
}

build_dotnet() {
    dotnet_sdk_10_present || { warn "the .NET 10 SDK is not installed (run ./build.sh setup)"; return 1; }
    local missing=0 path
    while IFS= read -r path; do
        [ -f "$ROOT/$path" ] || { warn "$(basename "$SOLUTION") lists $path, which does not exist"; missing=1; }
    done < <(sed -n 's/.*<Project Path="\([^"]*\)".*/\1/p' "$SOLUTION")
    if [ "$missing" = 0 ]; then
        say "dotnet build $(basename "$SOLUTION") -c $CONFIGURATION"
        dotnet build "$SOLUTION" -c "$CONFIGURATION" -nologo -v:minimal -clp:NoSummary || return 1
    else
        local project status=0
        while IFS= read -r project; do
            say "dotnet build ${project#"$ROOT"/} -c $CONFIGURATION"
            dotnet build "$project" -c "$CONFIGURATION" -nologo -v:minimal -clp:NoSummary || status=1
        done < <(dotnet_projects)
        return "$status"
    fi
}

cmd_build() {
    build_native "$NATIVE_BUILD" "${PADDEDATTN_CUDA:-AUTO}" || die "the native build failed"
    build_dotnet || die "the .NET build failed"
    say "build: done"
}

# ------------------------------------------------------------------- test --

# One entry per suite: "name|passed|failed|skipped|note".
RESULTS=()
record() { RESULTS+=("$1|$2|$3|$4|${5:-}"); }

# run_ctest DIR [NAME [CTEST ARGS...]]
run_ctest() {
    local dir="$1" label="${2:-ctest}" rc=0
    shift; [ "$#" -gt 0 ] && shift
    local log="$RESULTS_DIR/${label//[^A-Za-z0-9_.-]/_}.log"
    say "$label"
    (cd "$dir" && ctest --output-on-failure --timeout 900 "$@") 2>&1 | tee "$log" || rc=$?
    # One line per test: " 3/12 Test  #3: test_x ....   Passed    0.01 sec"
    local passed failed skipped
    passed="$(grep -cE '^ *[0-9]+/[0-9]+ +Test +#[0-9]+: .* Passed ' "$log" || true)"
    skipped="$(grep -E '^ *[0-9]+/[0-9]+ +Test +#[0-9]+: ' "$log" | grep -c 'Skipped' || true)"
    failed="$(grep -E '^ *[0-9]+/[0-9]+ +Test +#[0-9]+: ' "$log" | grep -vE ' Passed |Skipped' | grep -c . || true)"
    if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
        failed=1   # ctest itself failed (no per-test line says why)
    fi
    record "$label" "$passed" "$failed" "$skipped"
}

# The CPU backend's instruction-set paths this machine can run, lowest first
# (native/cpu/isa.cpp picks the last; PADDEDATTN_CPU_ISA forces a lower one).
cpu_isa_paths() {
    local flags
    flags=" $(grep -m 1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
    echo scalar
    case "$(uname -m)" in x86_64|amd64) ;; *) return 0 ;; esac
    [[ "$flags" == *" avx2 "* && "$flags" == *" fma "* && "$flags" == *" f16c "* ]] || return 0
    echo avx2
    local f
    for f in avx512f avx512bw avx512vl avx512dq; do [[ "$flags" == *" $f "* ]] || return 0; done
    echo avx512
    [[ "$flags" == *" avx512_bf16 "* ]] || return 0
    echo avx512_bf16
}

# The CPU suites (ctest CPU programs, MSTest Numerics.Cpu*) again on every
# path but the best one, which the main runs above already used.
run_cpu_isa_suites() {
    local native_dir="$1" dotnet_ok="$2" paths best isa log rc passed failed skipped
    paths="$(cpu_isa_paths)"
    best="$(tail -n 1 <<< "$paths")"
    for isa in $paths; do
        [ "$isa" = "$best" ] && continue
        log="$RESULTS_DIR/ctest-cpu-$isa.log" rc=0
        say "ctest CPU suites, PADDEDATTN_CPU_ISA=$isa"
        (cd "$native_dir" && PADDEDATTN_CPU_ISA=$isa ctest --output-on-failure --timeout 900 \
            -R '^test_(prefill_cpu|decode|decode_paged|merge_states|api_errors|cpu_.*)$') 2>&1 | tee "$log" || rc=$?
        passed="$(grep -cE '^ *[0-9]+/[0-9]+ +Test +#[0-9]+: .* Passed ' "$log" || true)"
        skipped="$(grep -E '^ *[0-9]+/[0-9]+ +Test +#[0-9]+: ' "$log" | grep -c 'Skipped' || true)"
        failed="$(grep -E '^ *[0-9]+/[0-9]+ +Test +#[0-9]+: ' "$log" | grep -vE ' Passed |Skipped' | grep -c . || true)"
        if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
        record "ctest CPU isa=$isa" "$passed" "$failed" "$skipped" "(best path $best: main run)"
        [ "$dotnet_ok" = 1 ] || continue
        PADDEDATTN_CPU_ISA=$isa run_mstest "$ROOT/tests/PaddedAttention.Tests/PaddedAttention.Tests.csproj" \
            "MSTest CPU isa=$isa" --filter "FullyQualifiedName~PaddedAttention.Tests.Numerics.Cpu"
    done
}

# Microsoft.Testing.Platform prints "total: N / failed: N / succeeded: N / skipped: N".
# run_mstest PROJECT [LABEL [RUNNER ARGS...]]; MSTEST_ENV (an array of
# NAME=VALUE) is set for the test process.
MSTEST_ENV=()
run_mstest() {
    local project="$1" name log rc=0
    name="$(basename "$project" .csproj)"
    local label="${2:-$name}"
    shift; [ "$#" -gt 0 ] && shift
    log="$RESULTS_DIR/${label//[^A-Za-z0-9_.-]/_}.log"
    local runner_args=(--progress off --ansi off --output detailed "$@")
    if [ "${#MSTEST_ENV[@]}" -gt 0 ]; then
        # The test assembly straight under the dotnet host, so that the
        # environment (a preloaded sanitizer runtime) reaches only the tests.
        local assembly
        assembly="$(find "$(dirname "$project")/bin/$CONFIGURATION" -name "$name.dll" -path '*/net*' | head -n 1)"
        say "MSTest: $label"
        timeout 2400 env "${MSTEST_ENV[@]}" dotnet "$assembly" "${runner_args[@]}" 2>&1 | tee "$log" || rc=$?
    elif [ -n "${PADDEDATTN_TEST_WRAPPER:-}" ]; then
        # e.g. "compute-sanitizer --tool memcheck": the wrapper runs the test
        # assembly under the dotnet host.
        local assembly wrapper
        read -r -a wrapper <<< "$PADDEDATTN_TEST_WRAPPER"
        assembly="$(find "$(dirname "$project")/bin/$CONFIGURATION" -name "$(basename "$project" .csproj).dll" -path '*/net*' | head -n 1)"
        say "MSTest: $name under $PADDEDATTN_TEST_WRAPPER"
        timeout 5400 "${wrapper[@]}" dotnet "$assembly" "${runner_args[@]}" 2>&1 | tee "$log" || rc=$?
    else
        say "MSTest: $name"
        timeout 2400 dotnet run --project "$project" -c "$CONFIGURATION" --no-build -- \
            "${runner_args[@]}" 2>&1 | tee "$log" || rc=$?
    fi
    local passed failed skipped total
    total="$(sed -nE 's/^ *total: *([0-9]+).*/\1/p' "$log" | tail -n 1)"
    passed="$(sed -nE 's/^ *succeeded: *([0-9]+).*/\1/p' "$log" | tail -n 1)"
    failed="$(sed -nE 's/^ *failed: *([0-9]+).*/\1/p' "$log" | tail -n 1)"
    skipped="$(sed -nE 's/^ *skipped: *([0-9]+).*/\1/p' "$log" | tail -n 1)"
    passed="${passed:-0}" failed="${failed:-0}" skipped="${skipped:-0}"
    if [ -z "$total" ]; then
        record "$label" 0 1 0 "no test summary (exit code $rc)"
    elif [ "$total" = 0 ]; then
        record "$label" 0 1 0 "ran no test"
    elif [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
        record "$label" "$passed" 1 "$skipped" "exit code $rc"
    else
        record "$label" "$passed" "$failed" "$skipped"
    fi
}

# A check that counts as one test: run_single NAME COMMAND...
run_single() {
    local name="$1" rc=0
    shift
    say "$name"
    "$@" || rc=$?
    if [ "$rc" = 0 ]; then record "$name" 1 0 0; else record "$name" 0 1 0 "exit code $rc"; fi
}

check_bindings() {
    [ -d "$BINDINGS_PROJECT" ] || { warn "no generator in ${BINDINGS_PROJECT#"$ROOT"/}"; return 1; }
    local scratch status=0
    scratch="$(mktemp -d)"
    if ! (cd "$ROOT" && dotnet run --project "${BINDINGS_PROJECT#"$ROOT"/}" -c "$CONFIGURATION" -- \
            --header "$HEADER" --output "$scratch/NativeMethods.g.cs" \
            --python-output "$scratch/_native.py" --clang clang-14); then
        status=1
    else
        local generated committed
        for generated in NativeMethods.g.cs _native.py; do
            committed="$GENERATED_BINDINGS"
            [ "$generated" = _native.py ] && committed="$GENERATED_PYTHON"
            if cmp -s "$scratch/$generated" "$ROOT/$committed"; then
                echo "$committed is up to date"
            else
                echo "$committed differs from what the generator writes now (run ./build.sh bindings and commit):"
                diff -u "$ROOT/$committed" "$scratch/$generated" | head -n 60 || true
                status=1
            fi
        done
    fi
    rm -rf "$scratch"
    return "$status"
}

build_c_sample() {
    local out="$BUILD_DIR/samples/c" lib_dir
    lib_dir="$(dirname "$NATIVE_LIB")"
    mkdir -p "$out"
    cc -std=c11 -O2 -Wall -Wextra -Werror -I"$ROOT/native/include" "$ROOT/samples/c/embedding_batch.c" \
        -L"$lib_dir" -lpaddedattn -lm -Wl,-rpath,"$lib_dir" -o "$out/embedding_batch"
}

run_c_sample() {
    build_c_sample && timeout 600 "$BUILD_DIR/samples/c/embedding_batch"
}

run_python_sample() {
    have python3 || { echo "python3 is not installed"; return 1; }
    PYTHONPATH="$PYTHON_PACKAGE_DIR${PYTHONPATH:+:$PYTHONPATH}" timeout 600 python3 "$ROOT/samples/python/run_sample.py"
}

# A Python suite whose last line is "N passed, N failed, N skipped":
# run_python_suite NAME SCRIPT
run_python_suite() {
    local name="$1" script="$2" log rc=0
    log="$RESULTS_DIR/$(basename "$script" .py).log"
    have python3 || { record "$name" 0 1 0 "python3 is not installed"; return; }
    say "$name"
    PYTHONPATH="$PYTHON_PACKAGE_DIR${PYTHONPATH:+:$PYTHONPATH}" timeout 600 python3 "$script" 2>&1 | tee "$log" || rc=$?
    local summary passed failed skipped
    summary="$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p' "$log" | tail -n 1)"
    if [ -z "$summary" ]; then
        record "$name" 0 1 0 "no summary (exit code $rc)"
        return
    fi
    read -r passed failed skipped <<< "$summary"
    if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
    record "$name" "$passed" "$failed" "$skipped"
}

# ------------------------------------------------------------ sanitizers --
# CPU-only builds of the library: ASan+UBSan (clang-14, every finding fatal)
# running the ctest suite, the MSTest suite (GPU tests filtered out; the
# sanitizer runtime preloaded into dotnet) and a libFuzzer target over the
# parameter structs for FUZZ_SECONDS; TSan (gcc: clang-14's shared TSan
# runtime does not start on this kernel) running the threading test.
# PADDEDATTN_SANITIZERS=0 skips them.
FUZZ_SECONDS="${PADDEDATTN_FUZZ_SECONDS:-60}"

build_sanitized() {
    local dir="$1" cc="$2" cxx="$3" sanitize="$4"
    shift 4
    cmake -S "$ROOT/native" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPADDEDATTN_CUDA=OFF \
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DPADDEDATTN_SANITIZE="$sanitize" "$@" >/dev/null \
        && cmake --build "$dir" --parallel "$JOBS"
}

run_fuzzer() {
    local dir="$1" corpus
    corpus="$(mktemp -d)"
    cp "$ROOT"/native/fuzz/corpus/* "$corpus"/
    # New inputs go to the scratch copy; the committed corpus stays as it is.
    timeout $((FUZZ_SECONDS + 120)) "$dir/fuzz_params" -max_total_time="$FUZZ_SECONDS" -max_len=700 \
        -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 | tail -n 25
    local rc="${PIPESTATUS[0]}"
    rm -rf "$corpus"
    return "$rc"
}

run_sanitizer_suites() {
    local dotnet_ok="$1"
    [ "${PADDEDATTN_SANITIZERS:-1}" = 0 ] && return 0
    have ninja || { record "sanitizer builds" 0 1 0 "ninja missing"; return 0; }
    local asan_dir="$BUILD_DIR/native-asan" tsan_dir="$BUILD_DIR/native-tsan" runtime_dir=""
    have clang-14 && runtime_dir="$(clang-14 -print-runtime-dir 2>/dev/null || true)"
    if [ -z "$runtime_dir" ] || [ ! -e "$runtime_dir/libclang_rt.asan-x86_64.so" ]; then
        record "ASan+UBSan build" 0 1 0 "clang-14 with its runtime (libclang-rt-14-dev) is missing"
    else
        say "native: ASan+UBSan build ($asan_dir)"
        if build_sanitized "$asan_dir" clang-14 clang++-14 address,undefined -DPADDEDATTN_FUZZ=ON; then
            export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1"
            run_ctest "$asan_dir" "ctest (ASan+UBSan)"
            if [ "$dotnet_ok" = 1 ]; then
                # The .NET runtime handles SIGSEGV itself and leaks by design.
                MSTEST_ENV=("LD_PRELOAD=$runtime_dir/libclang_rt.asan-x86_64.so"
                            "ASAN_OPTIONS=detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:use_sigaltstack=0:abort_on_error=1"
                            "PADDEDATTN_NATIVE_LIB=$asan_dir/libpaddedattn.so")
                local project
                for project in "$ROOT"/tests/*/*.csproj; do
                    grep -qE '<(IsTestProject|EnableMSTestRunner)>true<' "$project" || continue
                    run_mstest "$project" "$(basename "$project" .csproj) (ASan+UBSan)" --filter "TestCategory!=GPU"
                done
                MSTEST_ENV=()
            fi
            run_single "fuzz_params (${FUZZ_SECONDS} s)" run_fuzzer "$asan_dir"
            unset ASAN_OPTIONS UBSAN_OPTIONS
        else
            record "ASan+UBSan build" 0 1 0
        fi
    fi
    say "native: TSan build ($tsan_dir)"
    if build_sanitized "$tsan_dir" gcc g++ thread; then
        TSAN_OPTIONS="halt_on_error=1" run_ctest "$tsan_dir" "ctest threads (TSan)" -R 'test_threads'
    else
        record "TSan build" 0 1 0
    fi
}

# Every C#, C and Python block of README.md and docs/*.md, compiled and run
# (tests/snippets/check_doc_snippets.py); each block counts as one test.
run_doc_snippets() {
    local log="$RESULTS_DIR/doc-snippets.log" rc=0 summary
    say "documentation snippets"
    timeout 1800 python3 "$ROOT/tests/snippets/check_doc_snippets.py" --root "$ROOT" --native-lib "$NATIVE_LIB" \
        2>&1 | tee "$log" || rc=$?
    summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1)"
    if [ -z "$summary" ]; then
        record "doc snippets" 0 1 0 "no summary (exit code $rc)"
        return
    fi
    local passed failed skipped
    read -r passed _ failed _ skipped _ <<< "${summary//,/}"
    if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
    record "doc snippets" "$passed" "$failed" "$skipped"
}

# ./build.sh pack (--cpu-only when the library has no CUDA backend), then a
# fresh console app consumes the package and runs the README sample.
# bench/PaddedAttention.HostTime on the CPU backend: its harness (the check
# that every timed call computed the output, the tables) runs where no GPU is.
run_hosttime_smoke() {
    timeout 600 dotnet run --project "$ROOT/bench/PaddedAttention.HostTime" -c "$CONFIGURATION" --no-build -- \
        --device cpu --rows 1,3 --quick
}

run_package_check() {
    local pack_args=()
    if grep -aq '(CPU-only build)' "$NATIVE_LIB"; then pack_args=(--cpu-only); fi
    (cmd_pack "${pack_args[@]}") || return 1
    timeout 1200 "$ROOT/tests/package/consume_package.sh" "$ROOT/artifacts"
}

print_summary() {
    local entry name passed failed skipped note total_passed=0 total_failed=0 total_skipped=0
    echo
    echo "Test summary"
    for entry in "${RESULTS[@]}"; do
        IFS='|' read -r name passed failed skipped note <<< "$entry"
        printf '  %-28s passed %4d   failed %4d   skipped %4d   %s\n' "$name" "$passed" "$failed" "$skipped" "$note"
        total_passed=$((total_passed + passed))
        total_failed=$((total_failed + failed))
        total_skipped=$((total_skipped + skipped))
    done
    echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
    [ "$total_failed" = 0 ]
}

cmd_test() {
    mkdir -p "$RESULTS_DIR"
    local native_ok=1 dotnet_ok=1 native_dir="$NATIVE_BUILD"

    if ! build_native "$NATIVE_BUILD" "${PADDEDATTN_CUDA:-AUTO}"; then
        record "native build" 0 1 0 "PADDEDATTN_CUDA=${PADDEDATTN_CUDA:-AUTO}"
        native_ok=0
        # When the CUDA part is what broke, the CPU backend can still be tested.
        if [ "${PADDEDATTN_CUDA:-AUTO}" != OFF ]; then
            warn "retrying the native build without CUDA so that the other suites can run"
            native_dir="$BUILD_DIR/native-cpu"
            if build_native "$native_dir" OFF; then native_ok=1; fi
        fi
    fi
    if ! build_dotnet; then
        record ".NET build" 0 1 0
        dotnet_ok=0
    fi

    if [ "$dotnet_ok" = 1 ]; then
        run_single "bindings up to date" check_bindings
    else
        record "bindings up to date" 0 1 0 ".NET build failed"
    fi

    if [ "$native_ok" = 1 ]; then
        run_ctest "$native_dir"
        if [ "$dotnet_ok" = 1 ]; then
            local project found=0
            for project in "$ROOT"/tests/*/*.csproj; do
                [ -f "$project" ] || continue
                grep -qE '<(IsTestProject|EnableMSTestRunner)>true<' "$project" || continue
                found=1
                run_mstest "$project"
            done
            [ "$found" = 1 ] || record "MSTest" 0 1 0 "no test project under tests/"
        fi
        run_cpu_isa_suites "$native_dir" "$dotnet_ok"
        run_single "C sample" run_c_sample
        run_single "Python sample" run_python_sample
        run_python_suite "Python ctypes layout" "$ROOT/tests/python/test_ctypes_layout.py"
        run_python_suite "paged-prefill benchmark cases" "$ROOT/tests/python/test_bench_prefill_paged.py"
        run_python_suite "tile-schedule model" "$ROOT/tests/python/test_tile_schedule_model.py"
        run_sanitizer_suites "$dotnet_ok"
        if [ "$dotnet_ok" = 1 ]; then
            run_doc_snippets
            run_single "benchmark charts" "$ROOT/tests/snippets/check_charts.sh"
            run_single "host-time benchmark (CPU smoke)" run_hosttime_smoke
            run_single "package consumed" run_package_check
        fi
    fi

    print_summary
}

# ------------------------------------------------------------------- demo --

cmd_demo() {
    cmd_build
    [ -d "$DEMO_PROJECT" ] || die "${DEMO_PROJECT#"$ROOT"/} does not exist"
    say "samples/SentenceEmbeddings $*"
    dotnet run -c "$CONFIGURATION" --no-build --project "$DEMO_PROJECT" -- "$@"
}

# --------------------------------------------------------------- bindings --

cmd_bindings() {
    dotnet_sdk_10_present || die "the .NET 10 SDK is not installed (run ./build.sh setup)"
    have clang-14 || die "clang-14 is needed to read the header (run ./build.sh setup)"
    cd "$ROOT"
    dotnet run --project "${BINDINGS_PROJECT#"$ROOT"/}" -c "$CONFIGURATION" -- \
        --header "$HEADER" --output "$GENERATED_BINDINGS" --python-output "$GENERATED_PYTHON" --clang clang-14
    say "wrote $GENERATED_BINDINGS and $GENERATED_PYTHON"
}

# ------------------------------------------------------------------- pack --

# pack [--cpu-only]: a package of a CUDA build; a CPU-only library is refused
# unless asked for, and then packed as version X.Y.Z-cpu (never mistaken for,
# or cached as, the CUDA package).
cmd_pack() {
    local cpu_only=0 arg
    for arg in "$@"; do
        case "$arg" in
            --cpu-only) cpu_only=1 ;;
            *) die "pack: unknown option '$arg' (only --cpu-only)" ;;
        esac
    done
    local native_dir="$NATIVE_BUILD" cuda_mode="${PADDEDATTN_CUDA:-AUTO}"
    if [ "$cpu_only" = 1 ]; then
        # Reuse the main build when it is CPU-only already.
        local existing
        existing="$(find_native_lib "$NATIVE_BUILD" 2>/dev/null || true)"
        if [ -z "$existing" ] || ! grep -aq '(CPU-only build)' "$existing"; then
            native_dir="$BUILD_DIR/native-cpu"
        fi
        cuda_mode=OFF
    fi
    build_native "$native_dir" "$cuda_mode" || die "the native build failed"
    dotnet_sdk_10_present || die "the .NET 10 SDK is not installed (run ./build.sh setup)"
    local flavor_args=() built_cpu_only=0
    if grep -aq '(CPU-only build)' "$NATIVE_LIB"; then built_cpu_only=1; fi
    if [ "$built_cpu_only" = 1 ] && [ "$cpu_only" = 0 ]; then
        die "$NATIVE_LIB is a CPU-only build (no CUDA toolkit was found or PADDEDATTN_CUDA=OFF); install one (./build.sh setup) or run ./build.sh pack --cpu-only for a package named as CPU-only (version suffix -cpu)"
    fi
    [ "$cpu_only" = 1 ] && flavor_args=(-p:PaddedAttentionPackageFlavor=cpu)
    local artifacts="$ROOT/artifacts" lib_name package
    lib_name="$(basename "$NATIVE_LIB")"
    mkdir -p "$artifacts"
    rm -f "$artifacts"/PaddedAttention.*.nupkg "$artifacts"/PaddedAttention.*.snupkg
    say "dotnet pack ${MANAGED_PROJECT#"$ROOT"/} (native library: $NATIVE_LIB${flavor_args[*]:+, CPU-only})"
    dotnet pack "$MANAGED_PROJECT" -c "$CONFIGURATION" -nologo -v:minimal -o "$artifacts" \
        -p:PaddedAttentionNativeLib="$NATIVE_LIB" -p:PaddedAttentionSourceLink=true -p:ContinuousIntegrationBuild=true \
        "${flavor_args[@]}"
    package="$(find "$artifacts" -maxdepth 1 -name 'PaddedAttention.*.nupkg' -not -name '*.symbols.nupkg' | head -n 1)"
    [ -n "$package" ] || die "dotnet pack wrote no PaddedAttention package into artifacts/"
    local listing
    listing="$(unzip -l "$package")"
    if [[ "$listing" == *" runtimes/linux-x64/native/$lib_name"$'\n'* ]]; then
        say "$package contains runtimes/linux-x64/native/$lib_name"
    else
        unzip -l "$package"
        die "$package lacks runtimes/linux-x64/native/$lib_name"
    fi
    [[ "$listing" == *" buildTransitive/PaddedAttention.targets"$'\n'* ]] || die "$package lacks buildTransitive/PaddedAttention.targets"
    [ -f "${package%.nupkg}.snupkg" ] || die "dotnet pack wrote no symbols package (${package%.nupkg}.snupkg)"
    say "symbols: ${package%.nupkg}.snupkg"
}

# ------------------------------------------------------------------- main --

command="${1:-help}"
[ "$#" -gt 0 ] && shift
case "$command" in
    setup)    cmd_setup ;;
    build)    cmd_build ;;
    test)     cmd_test ;;
    demo)     cmd_demo "$@" ;;
    bindings) cmd_bindings ;;
    pack)     cmd_pack "$@" ;;
    help|-h|--help) usage ;;
    *) usage >&2; die "unknown command '$command'" ;;
esac
