# Sourced by consume_package.sh and stage_gpu_consumer.sh: creates the fresh
# console app a new user would write. Defines
#
#   new_consumer_app ARTIFACTS_DIR APP_DIR    sets PACKAGE_PATH and PACKAGE_VERSION
#
# The app: `dotnet new console`, a nuget.config with ARTIFACTS_DIR as the only
# extra source, `dotnet add package PaddedAttention`, the README's first C#
# block pasted unchanged as Program.cs, and NativeLibraryReport.cs, which prints
# (before Program.cs runs) which libpaddedattn the process loaded, what it was
# built with and the device Device.Default picks, so a run shows whether the
# package's own library ran the sample. The caller sets NUGET_PACKAGES to an
# empty cache so no stale copy of the package stands in.

# The README's first csharp block, unchanged.
write_readme_sample() {
    python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
block = re.search(r"^```csharp\n(.*?)^```", text, re.S | re.M)
open(sys.argv[2], "w", encoding="utf-8").write(block.group(1))
PY
}

new_consumer_app() {
    local artifacts="$1" app="$2" root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    PACKAGE_PATH="$(find "$artifacts" -maxdepth 1 -name 'PaddedAttention.*.nupkg' -not -name '*.symbols.nupkg' | head -n 1)"
    [ -n "$PACKAGE_PATH" ] || { echo "no PaddedAttention package in $artifacts (run ./build.sh pack)"; return 1; }
    PACKAGE_VERSION="$(basename "$PACKAGE_PATH" .nupkg)"
    PACKAGE_VERSION="${PACKAGE_VERSION#PaddedAttention.}"
    echo "==> consuming $PACKAGE_PATH (version $PACKAGE_VERSION)"
    mkdir -p "$(dirname "$app")"
    dotnet new console -o "$app" --no-restore >/dev/null
    # Only the package itself comes from artifacts/; its dependencies from the usual sources.
    (cd "$app" && dotnet new nugetconfig >/dev/null \
        && dotnet nuget add source "$artifacts" --name paddedattention-local --configfile nuget.config >/dev/null \
        && dotnet add package PaddedAttention --version "$PACKAGE_VERSION" >/dev/null) || return 1
    write_readme_sample "$root/README.md" "$app/Program.cs"
    cat > "$app/NativeLibraryReport.cs" <<'CS'
using System.Runtime.CompilerServices;
using PaddedAttention;

// Runs before Program.cs (the README sample, unchanged): which native library
// this process loaded is what decides whether the package's own one was used.
internal static class NativeLibraryReport
{
#pragma warning disable CA2255 // an app's own module initializer, on purpose
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Print()
    {
        var capabilities = PaddedAttentionLibrary.Capabilities;
        Console.WriteLine($"native library: {PaddedAttentionLibrary.LoadedFrom}");
        Console.WriteLine($"native version: {PaddedAttentionLibrary.Version}");
        Console.WriteLine($"built with: CUDA {(capabilities.CudaBuilt ? capabilities.CudaRuntimeVersion.ToString() : "no")}" +
            $" [{string.Join(" ", capabilities.CudaArchitectures)}], CPU {capabilities.CpuIsa}");
        Console.WriteLine($"Device.Default: {Device.Default} ({Device.CudaDeviceCount} CUDA devices)");
    }
}
CS
}
