using System.Reflection;
using System.Runtime.InteropServices;
using PaddedAttention.Interop;

namespace PaddedAttention.Tests.Bindings;

/// <summary>
/// Finding and checking the native library. The process-wide resolver loads
/// once, so the probing order and the failure message are tested through the
/// loader's state-free <c>Probe</c> function with fake loaders and real files.
/// </summary>
[TestClass]
public sealed class NativeLoaderTests
{
    private string _scratch = "";

    [TestInitialize]
    public void CreateScratch() => _scratch = Directory.CreateTempSubdirectory("pattn-loader-").FullName;

    [TestCleanup]
    public void DeleteScratch() => Directory.Delete(_scratch, recursive: true);

    [TestMethod]
    public void EnvironmentVariable_PointingAtAMissingFile_FailsWithAClearMessage()
    {
        string missing = Path.Combine(_scratch, "nowhere", NativeLibraryLoader.PlatformFileName);
        // A library in the app directory must not silently replace the explicit override.
        File.WriteAllText(Path.Combine(_scratch, NativeLibraryLoader.PlatformFileName), "");
        var loads = new List<string>();

        var result = NativeLibraryLoader.Probe(missing, _scratch, "linux-x64", Recording(loads, succeed: true), Recording(loads, succeed: true));

        Assert.IsFalse(result.Succeeded);
        Assert.AreEqual(IntPtr.Zero, result.Handle);
        Assert.IsNull(result.LoadedFrom);
        Assert.AreEqual(0, loads.Count, "nothing may be loaded when the variable names a missing file");
        Assert.AreEqual(1, result.Probes.Count);
        Assert.AreEqual(missing, result.Probes[0].Location);
        StringAssert.Contains(result.Probes[0].Outcome, "no such file");

        string message = result.DescribeFailure();
        StringAssert.Contains(message, missing);
        StringAssert.Contains(message, NativeLibraryLoader.EnvironmentVariable);
        StringAssert.Contains(message, "no such file");
        StringAssert.Contains(message, NativeLibraryLoader.PlatformFileName);
    }

    [TestMethod]
    public void NothingFound_ListsEveryPathTried_InOrder()
    {
        var result = NativeLibraryLoader.Probe(null, _scratch, "linux-x64",
            (string path, out IntPtr handle, out string error) => throw new AssertFailedException($"no file exists, yet {path} was loaded"),
            (string name, out IntPtr handle, out string error) =>
            {
                handle = IntPtr.Zero;
                error = "not on the search path";
                return false;
            });

        Assert.IsFalse(result.Succeeded);
        var expected = new List<string> { "$" + NativeLibraryLoader.EnvironmentVariable, Path.Combine(_scratch, NativeLibraryLoader.PlatformFileName) };
        expected.Add(Path.Combine(_scratch, "runtimes", "linux-x64", "native", NativeLibraryLoader.PlatformFileName));
        string portable = NativeLibraryLoader.PortableRuntimeIdentifier();
        if (portable != "linux-x64")
        {
            expected.Add(Path.Combine(_scratch, "runtimes", portable, "native", NativeLibraryLoader.PlatformFileName));
        }
        expected.Add(NativeLibraryLoader.PlatformFileName);
        CollectionAssert.AreEqual(expected, result.Probes.Select(p => p.Location).ToList());

        string message = result.DescribeFailure();
        foreach (var probe in result.Probes)
        {
            StringAssert.Contains(message, probe.Location);
            StringAssert.Contains(message, probe.Outcome);
        }
        StringAssert.Contains(message, "not set");
        StringAssert.Contains(message, "not on the search path");
    }

    [TestMethod]
    public void ApplicationDirectory_ComesBeforeRuntimesFolder_AndAFailedLoadFallsThrough()
    {
        string appLibrary = Path.Combine(_scratch, NativeLibraryLoader.PlatformFileName);
        string ridDirectory = Path.Combine(_scratch, "runtimes", "linux-x64", "native");
        Directory.CreateDirectory(ridDirectory);
        string ridLibrary = Path.Combine(ridDirectory, NativeLibraryLoader.PlatformFileName);
        File.WriteAllText(appLibrary, "");
        File.WriteAllText(ridLibrary, "");
        var loads = new List<string>();

        var first = NativeLibraryLoader.Probe(null, _scratch, "linux-x64", Recording(loads, succeed: true), Recording(loads, succeed: false));
        Assert.IsTrue(first.Succeeded);
        Assert.AreEqual(appLibrary, first.LoadedFrom);
        CollectionAssert.AreEqual(new[] { appLibrary }, loads);

        loads.Clear();
        var second = NativeLibraryLoader.Probe(null, _scratch, "linux-x64",
            (string path, out IntPtr handle, out string error) =>
            {
                loads.Add(path);
                bool ok = path == ridLibrary;
                handle = ok ? new IntPtr(42) : IntPtr.Zero;
                error = ok ? "" : "wrong ELF class: ELFCLASS32";
                return ok;
            },
            Recording(loads, succeed: false));
        Assert.IsTrue(second.Succeeded);
        Assert.AreEqual(new IntPtr(42), second.Handle);
        Assert.AreEqual(ridLibrary, second.LoadedFrom);
        CollectionAssert.AreEqual(new[] { appLibrary, ridLibrary }, loads);
        var appProbe = second.Probes.Single(p => p.Location == appLibrary);
        StringAssert.Contains(appProbe.Outcome, "wrong ELF class");
    }

    [TestMethod]
    public void EnvironmentVariable_NamingAnExistingFile_IsLoadedFirst()
    {
        string custom = Path.Combine(_scratch, "custom-build", NativeLibraryLoader.PlatformFileName);
        Directory.CreateDirectory(Path.GetDirectoryName(custom)!);
        File.WriteAllText(custom, "");
        File.WriteAllText(Path.Combine(_scratch, NativeLibraryLoader.PlatformFileName), "");
        var loads = new List<string>();

        var result = NativeLibraryLoader.Probe(custom, _scratch, "linux-x64", Recording(loads, succeed: true), Recording(loads, succeed: true));

        Assert.IsTrue(result.Succeeded);
        Assert.AreEqual(custom, result.LoadedFrom);
        CollectionAssert.AreEqual(new[] { custom }, loads);
    }

    [TestMethod]
    public void Probe_NeverThrows_EvenWhenALoaderDoes()
    {
        File.WriteAllText(Path.Combine(_scratch, NativeLibraryLoader.PlatformFileName), "");
        var result = NativeLibraryLoader.Probe(null, _scratch, "linux-x64",
            (string path, out IntPtr handle, out string error) => throw new BadImageFormatException("broken loader"),
            (string name, out IntPtr handle, out string error) => throw new InvalidOperationException("broken search"));

        Assert.IsFalse(result.Succeeded);
        StringAssert.Contains(result.DescribeFailure(), "broken loader");
        StringAssert.Contains(result.DescribeFailure(), "broken search");
    }

    [TestMethod]
    public void RealLoader_ReportsWhyAFileThatIsNotALibraryFailsToLoad()
    {
        string garbage = Path.Combine(_scratch, NativeLibraryLoader.PlatformFileName);
        File.WriteAllText(garbage, "this is not a shared library\n");
        var loadFromPath = (NativeLibraryLoader.TryLoadLibrary)Delegate.CreateDelegate(
            typeof(NativeLibraryLoader.TryLoadLibrary),
            typeof(NativeLibraryLoader).GetMethod("LoadFromPath", BindingFlags.NonPublic | BindingFlags.Static)!);

        var result = NativeLibraryLoader.Probe(garbage, _scratch, "linux-x64", loadFromPath, loadFromPath);

        Assert.IsFalse(result.Succeeded);
        var outcome = result.Probes.Single().Outcome;
        StringAssert.StartsWith(outcome, "exists but failed to load: ");
        Assert.IsTrue(outcome.Length > "exists but failed to load: ".Length + 5, $"the loader's reason is missing: '{outcome}'");
    }

    [TestMethod]
    public void PortableRuntimeIdentifier_HasNuGetsShape()
    {
        string rid = NativeLibraryLoader.PortableRuntimeIdentifier();
        StringAssert.Matches(rid, new System.Text.RegularExpressions.Regex("^(linux|win|osx)-(x64|x86|arm64|arm|[a-z0-9]+)$"));
        if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
        {
            Assert.AreEqual("linux-x64", rid);
        }
        var candidates = NativeLibraryLoader.CandidatePaths("/app", rid);
        Assert.AreEqual(Path.Combine("/app", NativeLibraryLoader.PlatformFileName), candidates[0].Path);
        Assert.IsTrue(candidates.Any(c => c.Path == Path.Combine("/app", "runtimes", rid, "native", NativeLibraryLoader.PlatformFileName)));
    }

    [TestMethod]
    public void AbiCheck_AcceptsEqualVersions_AndExplainsAMismatch()
    {
        Assert.IsNull(PaddedAttentionLibrary.DescribeAbiMismatch(1, 1, "/opt/lib/libpaddedattn.so"));
        string? message = PaddedAttentionLibrary.DescribeAbiMismatch(2, 1, "/opt/lib/libpaddedattn.so");
        Assert.IsNotNull(message);
        StringAssert.Contains(message, "ABI version 2");
        StringAssert.Contains(message, "ABI version 1");
        StringAssert.Contains(message, "/opt/lib/libpaddedattn.so");
    }

    [TestMethod]
    public void LoadedLibrary_HasTheBindingsAbiVersion_AndAVersionString()
    {
        RequireLibrary();
        Assert.AreEqual((uint)PattnConstants.AbiVersion, PaddedAttentionLibrary.AbiVersion);
        Assert.AreEqual(PaddedAttentionLibrary.ExpectedAbiVersion, PaddedAttentionLibrary.AbiVersion);
        string version = PaddedAttentionLibrary.Version;
        StringAssert.StartsWith(version, $"{PattnConstants.VersionMajor}.{PattnConstants.VersionMinor}.{PattnConstants.VersionPatch}");
        Assert.IsFalse(string.IsNullOrWhiteSpace(PaddedAttentionLibrary.LoadedFrom));
    }

    [TestMethod]
    public void LoadedLibrary_ExportsEveryBoundFunction()
    {
        RequireLibrary();
        var handle = NativeLibraryLoader.Resolution.Handle;
        var entryPoints = typeof(NativeMethods).GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
            .Select(m => m.GetCustomAttribute<LibraryImportAttribute>()?.EntryPoint)
            .OfType<string>()
            .ToList();
        Assert.IsTrue(entryPoints.Count >= 20, $"found {entryPoints.Count} bound functions");
        var missing = entryPoints.Where(name => !NativeLibrary.TryGetExport(handle, name, out _)).ToList();
        Assert.AreEqual(0, missing.Count, "not exported: " + string.Join(", ", missing));
    }

    [TestMethod]
    public unsafe void ThrowIfFailed_CarriesTheStatusAndTheNativeMessage()
    {
        RequireLibrary();
        PaddedAttentionLibrary.ThrowIfFailed(PattnStatus.Success); // no exception

        var status = NativeMethods.pattn_sequence_prefill(null, null);
        Assert.AreEqual(PattnStatus.InvalidArgument, status);
        var error = Assert.Throws<PaddedAttentionException>(() => PaddedAttentionLibrary.ThrowIfFailed(status));
        Assert.AreEqual(AttentionStatus.InvalidArgument, error.Status);
        Assert.IsFalse(string.IsNullOrEmpty(error.NativeMessage), "the native message is missing");
        StringAssert.Contains(error.Message, error.NativeMessage);
        StringAssert.Contains(error.Message, "PATTN_STATUS_INVALID_ARGUMENT");

        // A struct_size the library does not know is refused, naming the field.
        var parameters = new PattnPrefillParams { struct_size = 3 };
        status = NativeMethods.pattn_sequence_prefill(&parameters, null);
        error = Assert.Throws<PaddedAttentionException>(() => PaddedAttentionLibrary.ThrowIfFailed(status));
        Assert.AreEqual(AttentionStatus.InvalidArgument, error.Status);
        StringAssert.Contains(error.NativeMessage, "struct_size");
    }

    private static void RequireLibrary()
    {
        if (PaddedAttentionLibrary.LoadedFrom is null)
        {
            Assert.Inconclusive("the native library could not be loaded:\n" + NativeLibraryLoader.Resolution.DescribeFailure());
        }
    }

    private static NativeLibraryLoader.TryLoadLibrary Recording(List<string> loads, bool succeed) =>
        (string path, out IntPtr handle, out string error) =>
        {
            loads.Add(path);
            handle = succeed ? new IntPtr(7) : IntPtr.Zero;
            error = succeed ? "" : "refused by the test";
            return succeed;
        };
}
