using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace PaddedAttention.Interop;

/// <summary>One place the loader looked for the native library, and what happened there.</summary>
internal sealed record NativeLibraryProbe(string Location, string Source, string Outcome);

/// <summary>The result of resolving the native library: a handle (or zero) and every probe made.</summary>
internal sealed record NativeLibraryResolution(IntPtr Handle, string? LoadedFrom, IReadOnlyList<NativeLibraryProbe> Probes)
{
    public bool Succeeded => Handle != IntPtr.Zero;

    /// <summary>The message of the <see cref="DllNotFoundException"/> thrown when loading failed.</summary>
    public string DescribeFailure()
    {
        var text = new StringBuilder();
        text.Append("The PaddedAttention native library (")
            .Append(NativeLibraryLoader.PlatformFileName)
            .Append(") could not be loaded. Paths tried, in order:");
        foreach (var probe in Probes)
        {
            text.Append("\n  - ").Append(probe.Location).Append(" [").Append(probe.Source).Append("]: ").Append(probe.Outcome);
        }
        text.Append("\nBuild native/ (see README.md) and put the library next to the application, under runtimes/<rid>/native/, ")
            .Append("or set ").Append(NativeLibraryLoader.EnvironmentVariable).Append(" to its full path.");
        return text.ToString();
    }
}

/// <summary>
/// Finds libpaddedattn for the <c>LibraryImport</c>s of this assembly. Order:
/// <c>PADDEDATTN_NATIVE_LIB</c> (a file path; when set, nothing else is tried,
/// so a wrong override is reported instead of silently replaced), the
/// application directory, <c>runtimes/&lt;rid&gt;/native/</c> under it, then the
/// operating system's default search. The resolver itself never throws: it
/// records what it tried, and <see cref="PaddedAttentionLibrary"/> turns a
/// failure into an exception listing every path.
/// </summary>
internal static class NativeLibraryLoader
{
    /// <summary>Environment variable holding the full path of the native library.</summary>
    public const string EnvironmentVariable = "PADDEDATTN_NATIVE_LIB";

    private static readonly object Gate = new();
    private static NativeLibraryResolution? s_resolution;

    /// <summary>Tries to load the library at a path; returns the handle or an error text. Never throws.</summary>
    internal delegate bool TryLoadLibrary(string path, out IntPtr handle, out string error);

    /// <summary>libpaddedattn.so, libpaddedattn.dylib or paddedattn.dll.</summary>
    public static string PlatformFileName =>
        OperatingSystem.IsWindows() ? NativeMethods.LibraryName + ".dll"
        : OperatingSystem.IsMacOS() ? "lib" + NativeMethods.LibraryName + ".dylib"
        : "lib" + NativeMethods.LibraryName + ".so";

#pragma warning disable CA2255 // The resolver must be in place before the first LibraryImport call of this assembly.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register()
    {
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraryLoader).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // A resolver was already set for this assembly (by the host): keep it.
        }
    }

    /// <summary>Loads the library once per process and returns what happened.</summary>
    public static NativeLibraryResolution Resolution
    {
        get
        {
            lock (Gate)
            {
                s_resolution ??= Probe(
                    Environment.GetEnvironmentVariable(EnvironmentVariable),
                    AppContext.BaseDirectory,
                    RuntimeInformation.RuntimeIdentifier,
                    LoadFromPath,
                    LoadFromDefaultSearch);
                return s_resolution;
            }
        }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != NativeMethods.LibraryName)
        {
            return IntPtr.Zero;
        }
        try
        {
            return Resolution.Handle;
        }
        catch (Exception)
        {
            return IntPtr.Zero; // never throw from a resolver
        }
    }

    /// <summary>
    /// The probing logic, free of process state so that it can be tested:
    /// every candidate in order until one loads.
    /// </summary>
    internal static NativeLibraryResolution Probe(
        string? environmentPath, string applicationDirectory, string runtimeIdentifier,
        TryLoadLibrary loadFromPath, TryLoadLibrary loadFromDefaultSearch)
    {
        var probes = new List<NativeLibraryProbe>();
        if (!string.IsNullOrWhiteSpace(environmentPath))
        {
            string source = $"{EnvironmentVariable} (set, so no other location is tried)";
            if (TryCandidate(environmentPath, source, loadFromPath, probes, out var handle))
            {
                return new NativeLibraryResolution(handle, environmentPath, probes);
            }
            return new NativeLibraryResolution(IntPtr.Zero, null, probes);
        }
        probes.Add(new NativeLibraryProbe($"${EnvironmentVariable}", "environment variable", "not set"));

        foreach (var (path, source) in CandidatePaths(applicationDirectory, runtimeIdentifier))
        {
            if (TryCandidate(path, source, loadFromPath, probes, out var handle))
            {
                return new NativeLibraryResolution(handle, path, probes);
            }
        }

        string name = PlatformFileName;
        bool loaded;
        IntPtr defaultHandle;
        string error;
        try
        {
            loaded = loadFromDefaultSearch(name, out defaultHandle, out error);
        }
        catch (Exception exception)
        {
            (loaded, defaultHandle, error) = (false, IntPtr.Zero, exception.Message);
        }
        probes.Add(new NativeLibraryProbe(name, "operating system default search", loaded ? "loaded" : error));
        return loaded
            ? new NativeLibraryResolution(defaultHandle, name + " (default search)", probes)
            : new NativeLibraryResolution(IntPtr.Zero, null, probes);
    }

    /// <summary>The file locations tried after the environment variable, in order.</summary>
    internal static IReadOnlyList<(string Path, string Source)> CandidatePaths(string applicationDirectory, string runtimeIdentifier)
    {
        string name = PlatformFileName;
        var candidates = new List<(string, string)> { (Path.Combine(applicationDirectory, name), "application directory") };
        var rids = new List<string>();
        if (!string.IsNullOrEmpty(runtimeIdentifier))
        {
            rids.Add(runtimeIdentifier);
        }
        string portable = PortableRuntimeIdentifier();
        if (!rids.Contains(portable))
        {
            rids.Add(portable);
        }
        foreach (var rid in rids)
        {
            candidates.Add((Path.Combine(applicationDirectory, "runtimes", rid, "native", name), $"runtimes/{rid}/native"));
        }
        return candidates;
    }

    /// <summary>linux-x64, win-x64, osx-arm64...: the RID NuGet packages use for native assets.</summary>
    internal static string PortableRuntimeIdentifier()
    {
        string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        string architecture = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.X86 => "x86",
            Architecture.Arm64 => "arm64",
            Architecture.Arm => "arm",
            var other => other.ToString().ToLowerInvariant(),
        };
        return $"{os}-{architecture}";
    }

    private static bool TryCandidate(string path, string source, TryLoadLibrary load, List<NativeLibraryProbe> probes, out IntPtr handle)
    {
        handle = IntPtr.Zero;
        string outcome;
        try
        {
            if (!File.Exists(path))
            {
                outcome = "no such file";
            }
            else if (load(path, out handle, out string error))
            {
                probes.Add(new NativeLibraryProbe(path, source, "loaded"));
                return true;
            }
            else
            {
                outcome = "exists but failed to load: " + error;
            }
        }
        catch (Exception exception)
        {
            outcome = "failed: " + exception.Message;
        }
        handle = IntPtr.Zero;
        probes.Add(new NativeLibraryProbe(path, source, outcome));
        return false;
    }

    private static bool LoadFromPath(string path, out IntPtr handle, out string error)
    {
        try
        {
            handle = NativeLibrary.Load(path);
            error = "";
            return true;
        }
        catch (Exception exception)
        {
            // DllNotFoundException / BadImageFormatException carry the loader's own reason.
            handle = IntPtr.Zero;
            error = exception.Message;
            return false;
        }
    }

    private static bool LoadFromDefaultSearch(string fileName, out IntPtr handle, out string error)
    {
        if (NativeLibrary.TryLoad(fileName, out handle))
        {
            error = "";
            return true;
        }
        error = "not found on the library search path (LD_LIBRARY_PATH, system directories)";
        return false;
    }
}
