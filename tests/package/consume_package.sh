#!/usr/bin/env bash
# The package as a new user adopts it: a fresh console app (dotnet new console)
# with artifacts/ as a local package source and an empty NuGet cache (so no
# stale copy can stand in), `dotnet add package PaddedAttention`, the README's
# first C# sample pasted unchanged as Program.cs, then run. Also checks that a
# build for a runtime identifier without a native library (linux-arm64) warns
# PATTN0001.
#
#   tests/package/consume_package.sh [ARTIFACTS_DIR]    (default: ./artifacts, from ./build.sh pack)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARTIFACTS="$(cd "${1:-$ROOT/artifacts}" && pwd)"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 MSBUILDDISABLENODEREUSE=1
unset PADDEDATTN_NATIVE_LIB   # the app must find the library the package carries

package="$(find "$ARTIFACTS" -maxdepth 1 -name 'PaddedAttention.*.nupkg' -not -name '*.symbols.nupkg' | head -n 1)"
[ -n "$package" ] || { echo "no PaddedAttention package in $ARTIFACTS (run ./build.sh pack)"; exit 1; }
version="$(basename "$package" .nupkg)"
version="${version#PaddedAttention.}"
echo "==> consuming $package (version $version)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export NUGET_PACKAGES="$work/nuget-cache"
cd "$work"
dotnet new console -o App --no-restore >/dev/null
cd App
# Only the package itself comes from artifacts/; its dependencies from the usual sources.
dotnet new nugetconfig >/dev/null
dotnet nuget add source "$ARTIFACTS" --name paddedattention-local --configfile nuget.config >/dev/null
dotnet add package PaddedAttention --version "$version" >/dev/null

# The README's first csharp block, unchanged.
python3 - "$ROOT/README.md" Program.cs <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
block = re.search(r"^```csharp\n(.*?)^```", text, re.S | re.M)
open(sys.argv[2], "w", encoding="utf-8").write(block.group(1))
PY
dotnet build -c Release -nologo -v:q -clp:NoSummary -warnaserror
echo "==> dotnet run (README sample)"
dotnet run -c Release --no-build

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
