#!/usr/bin/env bash
# The GPU half of "a fresh console app consuming the packed .nupkg runs the
# README sample unchanged": builds the same app as consume_package.sh
# (tests/package/consumer_app.sh) from the package in ARTIFACTS_DIR, publishes
# it for linux-x64 (framework-dependent: the package's libpaddedattn.so lands
# next to the app) and stages it in .gpu/package-consumer/, with the .NET
# runtime it runs on (the GPU machine has none) in .gpu/dotnet-runtime.tar.xz:
#
#   app.tar.xz            the published app, with the package's native library
#   package.sha256        sha256 of runtimes/linux-x64/native/libpaddedattn.so in the .nupkg
#   run.sh                runs it there (see run_gpu_consumer.sh)
#
# In a folder of its own (not .gpu/apps/, where freshly built libraries are put
# next to the staged apps) and run with PADDEDATTN_NATIVE_LIB unset: this check
# is about the package's own library. Copy .gpu/ to the GPU machine with the
# project, then from the project root there: bash .gpu/package-consumer/run.sh
#
#   tests/package/stage_gpu_consumer.sh [ARTIFACTS_DIR]   (default: ./artifacts, from ./build.sh pack)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARTIFACTS="$(cd "${1:-$ROOT/artifacts}" && pwd)"
STAGE="$ROOT/.gpu/package-consumer"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 MSBUILDDISABLENODEREUSE=1
unset PADDEDATTN_NATIVE_LIB

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export NUGET_PACKAGES="$work/nuget-cache"
source "$ROOT/tests/package/consumer_app.sh"
new_consumer_app "$ARTIFACTS" "$work/App"
(cd "$work/App" && dotnet publish -c Release -r linux-x64 --self-contained false -p:UseAppHost=true \
    -nologo -v:q -clp:NoSummary -warnaserror -o "$work/publish")
[ -f "$work/publish/libpaddedattn.so" ] || { echo "error: the published app has no libpaddedattn.so"; exit 1; }

rm -rf "$STAGE"
mkdir -p "$STAGE"
tar -C "$work/publish" -cJf "$STAGE/app.tar.xz" .
unzip -p "$PACKAGE_PATH" runtimes/linux-x64/native/libpaddedattn.so | sha256sum | cut -d' ' -f1 > "$STAGE/package.sha256"
echo "$(basename "$PACKAGE_PATH")" > "$STAGE/package.name"

# The runtime the published app targets (net10.0): the newest Microsoft.NETCore.App
# of the local dotnet, as .gpu/dotnet-runtime.tar.xz, reused when one of that
# version is there already (other staged .NET apps use the same file), so that
# the bundle never carries two copies.
dotnet_dir="$(dirname "$(readlink -f "$(command -v dotnet)")")"
runtime_version="$(basename "$(ls -d "$dotnet_dir"/shared/Microsoft.NETCore.App/* | sort -V | tail -1)")"
runtime_tarball="$ROOT/.gpu/dotnet-runtime.tar.xz"
if ! tar -tJf "$runtime_tarball" "shared/Microsoft.NETCore.App/$runtime_version/" >/dev/null 2>&1; then
    echo "packing .NET runtime $runtime_version (about a minute)"
    tar -C "$dotnet_dir" -cJf "$runtime_tarball.tmp" dotnet host "shared/Microsoft.NETCore.App/$runtime_version"
    mv "$runtime_tarball.tmp" "$runtime_tarball"
fi
cp "$ROOT/tests/package/run_gpu_consumer.sh" "$STAGE/run.sh"
du -shc "$STAGE" "$runtime_tarball" | tail -1 | awk '{print "staged: .gpu/package-consumer and .gpu/dotnet-runtime.tar.xz, "$1" (everything that travels: under 64 MiB)"}'
echo "on the GPU machine, from the project root (carry .gpu): bash .gpu/package-consumer/run.sh"
