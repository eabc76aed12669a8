#!/usr/bin/env bash
# The package as a new user adopts it: a fresh console app (dotnet new console)
# with artifacts/ as a local package source and an empty NuGet cache (so no
# stale copy can stand in), `dotnet add package PaddedAttention`, the README's
# first C# sample pasted unchanged as Program.cs (tests/package/consumer_app.sh),
# then run, and the native library that ran must be the package's. Also checks that a
# build for a runtime identifier without a native library (linux-arm64) warns
# PATTN0001.
#
#   tests/package/consume_package.sh [ARTIFACTS_DIR]    (default: ./artifacts, from ./build.sh pack)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARTIFACTS="$(cd "${1:-$ROOT/artifacts}" && pwd)"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 MSBUILDDISABLENODEREUSE=1
unset PADDEDATTN_NATIVE_LIB   # the app must find the library the package carries

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export NUGET_PACKAGES="$work/nuget-cache"
source "$ROOT/tests/package/consumer_app.sh"
new_consumer_app "$ARTIFACTS" "$work/App"
cd "$work/App"
dotnet build -c Release -nologo -v:q -clp:NoSummary -warnaserror
echo "==> dotnet run (README sample)"
dotnet run -c Release --no-build | tee "$work/run.log"

# The library that ran is the package's own: the one NativeLibraryReport.cs
# printed has the bytes of runtimes/linux-x64/native/libpaddedattn.so in the .nupkg.
loaded="$(sed -n 's/^native library: //p' "$work/run.log")"
packaged="$(unzip -p "$PACKAGE_PATH" runtimes/linux-x64/native/libpaddedattn.so | sha256sum | cut -d' ' -f1)"
if [ -f "$loaded" ] && [ "$(sha256sum < "$loaded" | cut -d' ' -f1)" = "$packaged" ]; then
    echo "the sample ran with the package's native library ($loaded)"
else
    echo "error: the loaded native library '$loaded' is not the package's (sha256 $packaged)"
    exit 1
fi

echo "==> dotnet build -r linux-arm64 (expects warning PATTN0001)"
log="$(dotnet build -c Release -nologo -v:q -r linux-arm64 -p:UseAppHost=false -p:SelfContained=false 2>&1 || true)"
if grep -q 'PATTN0001' <<< "$log"; then
    echo "warning PATTN0001 reported for linux-arm64"
else
    echo "$log" | tail -n 20
    echo "error: no PATTN0001 warning for linux-arm64"
    exit 1
fi
echo "==> package consumed: ok"
