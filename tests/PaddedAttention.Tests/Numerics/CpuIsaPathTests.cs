namespace PaddedAttention.Tests.Numerics;

/// <summary>
/// The CPU kernel path this test process runs is the one PADDEDATTN_CPU_ISA asks for (build.sh test runs
/// the Numerics.Cpu* suites once per path the machine has), capped at the best path of this CPU; the
/// CPU flags come from /proc/cpuinfo here, not from the library's cpuid code (native/cpu/isa.cpp).
/// </summary>
[TestClass]
public sealed class CpuIsaPathTests
{
    // Lowest first; each path needs the flags of the ones before it.
    private static readonly (string Name, string CapsText, string[] Flags)[] Paths =
    {
        ("scalar", "portable", Array.Empty<string>()),
        ("avx2", "AVX2", new[] { "avx2", "fma", "f16c" }),
        ("avx512", "AVX-512 (", new[] { "avx512f", "avx512bw", "avx512vl", "avx512dq" }),
        ("avx512_bf16", "AVX512_BF16", new[] { "avx512_bf16" }),
    };

    private static int BestPathOfThisCpu()
    {
        string? flagsLine = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
        if (flagsLine is null || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture !=
            System.Runtime.InteropServices.Architecture.X64)
            return 0;
        var flags = new HashSet<string>(flagsLine[(flagsLine.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        int best = 0;
        for (int i = 1; i < Paths.Length && Paths[i].Flags.All(flags.Contains); ++i) best = i;
        return best;
    }

    [TestMethod]
    public void CapabilitiesNameTheForcedPath()
    {
        if (!OperatingSystem.IsLinux()) Assert.Inconclusive("reads /proc/cpuinfo");
        int best = BestPathOfThisCpu();
        string? forced = Environment.GetEnvironmentVariable("PADDEDATTN_CPU_ISA");
        int asked = string.IsNullOrEmpty(forced) ? best : Array.FindIndex(Paths, p => p.Name == forced);
        int expected = asked < 0 || asked > best ? best : asked;  // unknown or missing: the best path
        string caps = PaddedAttentionLibrary.Capabilities.CpuIsa;
        StringAssert.Contains(caps, Paths[expected].CapsText,
            $"PADDEDATTN_CPU_ISA={forced ?? "(unset)"}, best path {Paths[best].Name}: cpu_isa \"{caps}\"");
        if (expected == 2) Assert.IsFalse(caps.Contains("AVX512_BF16", StringComparison.Ordinal), caps);
    }
}
